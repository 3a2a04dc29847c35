"""Run an ASGI app in N worker processes sharing one port, replacing any that die.

uvicorn's ``Multiprocess`` supervisor binds the socket once, starts the workers with it
and, every half second, replaces a worker that died (a segfault, the kernel's OOM
killer, or a worker that shut itself down because a prediction was stuck). ``uvicorn.run``
uses it only for ``workers > 1``; slipway always does, so that even a one-worker server
gets its worker back.

One change: uvicorn also pings each worker through a pipe, one after the other, waiting
up to a timeout for each answer. A worker answers only once it has imported the app,
which takes seconds, so a worker still starting stalls the loop: dead siblings wait to be
replaced and SIGTERM waits to be handled. ``_Supervisor`` checks liveness with the
operating system only, which never blocks. (A worker that is alive but stuck is the
serving engine's business: it shuts itself down, see ``slipway.serving.batching``.)

Before the workers start, the supervisor makes the folders they share: one for
prometheus_client's multiprocess metrics (``PROMETHEUS_MULTIPROC_DIR``) and one for the
model registry of the multi-model container API (``SLIPWAY_RUNTIME_DIR``).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess
from uvicorn.supervisors.multiprocess import Process

log = logging.getLogger("uvicorn.error")


class _Supervisor(Multiprocess):
    """uvicorn's supervisor, replacing dead workers without pinging live ones."""

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for index, process in enumerate(self.processes):
            if process.process.is_alive():
                continue
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                log.error("worker [%s] failed to start; stopping the server", process.pid)
                self.should_exit.set()
                return
            log.info("worker [%s] ended (exit code %s); starting another", process.pid,
                     process.exitcode)  # fmt: skip
            replacement = Process(self.config, self.sockets)
            replacement.start()
            self.processes[index] = replacement


def run(
    app: str,
    host: str,
    port: int,
    workers: int = 1,
    log_level: str = "info",
    graceful_timeout: int = 90,
    forwarded_allow_ips: list[str] | None = None,
) -> None:
    """Serve the app factory ``app`` ("module:function") until SIGINT or SIGTERM."""
    metrics_dir = tempfile.mkdtemp(prefix="slipway-metrics-")
    runtime_dir = tempfile.mkdtemp(prefix="slipway-runtime-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    os.environ["SLIPWAY_RUNTIME_DIR"] = runtime_dir
    os.environ["SLIPWAY_SERVER_WORKERS"] = str(workers)
    config = uvicorn.Config(
        app,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=graceful_timeout,
        # X-Forwarded-* only from the proxies named; uvicorn would otherwise believe any
        # process on this machine (its default trusts 127.0.0.1).
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips or [],
    )
    sock = config.bind_socket()
    try:
        _Supervisor(config, sockets=[sock]).run()
    finally:
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        shutil.rmtree(runtime_dir, ignore_errors=True)
