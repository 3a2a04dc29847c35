"""Helpers the tests share: free ports, server subprocesses, throwaway databases and homes."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import types
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

import httpx
import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

LOG_TAIL_LINES = 60
T = TypeVar("T")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(path: Path) -> str:
    lines = path.read_text(errors="replace").splitlines()
    return "\n".join(lines[-LOG_TAIL_LINES:])


def _stop_process_group(process: subprocess.Popen[bytes]) -> None:
    # The server runs in its own session, so signalling the group also stops any workers it forked.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_until_healthy(
    process: subprocess.Popen[bytes], url: str, timeout: float, log_path: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited with code {process.returncode} before {url} answered.\n"
                f"Last lines of {log_path.name}:\n{_log_tail(log_path)}"
            )
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"server did not answer 200 on {url} within {timeout} s.\n"
        f"Last lines of {log_path.name}:\n{_log_tail(log_path)}"
    )


@contextmanager
def run_server_process(
    args: list[str],
    env: dict[str, str],
    port: int,
    health_path: str = "/healthz",
    timeout: float = 30,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server subprocess until the block ends, yielding once it answers on 127.0.0.1:port.

    `env` is added to the current environment. The server's output goes to a log file whose
    last lines are attached to the error when the server never becomes healthy or the block
    fails.
    """
    log_dir = Path(tempfile.mkdtemp(prefix="slipway-server-"))
    log_path = log_dir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            args,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_healthy(process, f"http://127.0.0.1:{port}{health_path}", timeout, log_path)
        try:
            yield process
        except Exception as error:
            error.add_note(f"Last lines of the server log:\n{_log_tail(log_path)}")
            raise
    finally:
        _stop_process_group(process)
        shutil.rmtree(log_dir, ignore_errors=True)


@contextmanager
def run_slipway_server(
    database_url: str, home: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A `slipway server` on 127.0.0.1 over ``database_url``: its URL and its process."""
    port = free_port()
    # The `slipway` command installed beside this interpreter: what a team runs.
    slipway = str(Path(sys.executable).parent / "slipway")
    args = [slipway, "server", "--host", "127.0.0.1", "--port", str(port)]
    env = {
        "SLIPWAY_HOME": str(home),
        "SLIPWAY_DATABASE_URL": database_url,
        "SLIPWAY_ARTIFACT_URI": str(home / "artifacts"),
        # Empty values override what the test process may have set: not unset, but off.
        "SLIPWAY_SERVER_URL": "",
        "SLIPWAY_TOKEN": "",
    }
    with run_server_process(args, env, port) as process:
        yield f"http://127.0.0.1:{port}", process


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """Create an empty database with a unique name on the server of `server_url`, yield its URL.

    The database is dropped when the block ends, even if connections to it are still open.
    """
    url = make_url(server_url)
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin_dsn = url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            # FORCE ends sessions a test left open (a server's pool, say), which would block DROP.
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def slipway_sdk(**variables: str) -> Iterator[None]:
    """This process's SDK under exactly these SLIPWAY_* variables for the block."""
    from slipway.platform import reset
    from slipway.settings import get_settings, reload_settings

    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("SLIPWAY_")]:
            patch.delenv(name)
        for name, value in variables.items():
            patch.setenv(name, value)
        reload_settings()
        reset()
        try:
            yield
        finally:
            # Close the SQLite connections before another process opens the same file.
            reset()
            get_settings.cache_clear()


def slipway_home(home: Path) -> contextlib.AbstractContextManager[None]:
    """Point this process's SDK at ``home`` (embedded) for the block."""
    return slipway_sdk(SLIPWAY_HOME=str(home))


def _status_bytes(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"/proc/{pid}/status has no {field}")


def peak_memory_growth(pid: int, action: Callable[[], T]) -> tuple[T, int]:
    """``action``'s result, and how many bytes process ``pid``'s peak memory rose meanwhile.

    The peak resident set (VmHWM) is reset to the current one first, so what the process
    did before does not hide what ``action`` costs it.
    """
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    before = _status_bytes(pid, "VmHWM")
    result = action()
    return result, _status_bytes(pid, "VmHWM") - before


def run_slipway(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """Run `slipway *args` in this process as the installed command runs, under exactly these
    SLIPWAY_* variables, and return what `subprocess.run` would: exit code, stdout, stderr.

    The call goes through `slipway.cli.main`, so errors print as the command prints them (one
    line, no traceback), and a bug's traceback lands on stderr with exit code 1, as Python's.
    """
    from typer.testing import CliRunner

    from slipway.cli import app, main

    argv = ["slipway", *args]
    with pytest.MonkeyPatch.context() as patch, slipway_sdk(**variables):
        patch.setattr(sys, "argv", argv)
        # Click names the program after __main__: pytest's would make it `python -m pytest`.
        patch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
        # Typer installs its own hook when the app runs; the next test should not inherit it.
        patch.setattr(sys, "excepthook", sys.excepthook)
        # `main` mounts the capabilities' commands each time it runs, which a process does
        # once; undone here, or every later call would build the growing app anew.
        patch.setattr(app, "registered_groups", list(app.registered_groups))
        patch.setattr(app, "registered_commands", list(app.registered_commands))
        # Text streams over bytes (commands write sys.stdout.buffer), and an empty stdin.
        with CliRunner().isolation() as (stdout, stderr, _):
            # slipway configures no logging, so Python's last resort prints warnings and worse
            # on stderr; pytest's handlers on the root logger would keep them from the user.
            last_resort = logging.StreamHandler(sys.stderr)
            last_resort.setLevel(logging.WARNING)
            logging.root.addHandler(last_resort)
            try:
                returncode = _exit_code(main)
            finally:
                logging.root.removeHandler(last_resort)
            sys.stdout.flush()
            sys.stderr.flush()
            out, err = stdout.getvalue().decode(), stderr.getvalue().decode()
    return subprocess.CompletedProcess(argv, returncode, out, err)


def _exit_code(run: Callable[[], None]) -> int:
    """The exit code of a process whose main is `run`; a bug's traceback goes to stderr."""
    try:
        run()
    except SystemExit as exit:
        code = exit.code
        return 0 if code is None else code if isinstance(code, int) else 1
    except Exception:
        traceback.print_exc()
        return 1
    return 0
