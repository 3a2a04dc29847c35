"""What every Studio test module shares: a seeded home, the server on it, a signed-in tab.

Each module seeds its own SLIPWAY_HOME with the SDK (embedded), then runs a real
`slipway server` on that home with a token, so every page is behind sign-in. Pages are
checked for console errors and saved as screenshots under test-output/studio/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from helpers import free_port, run_server_process, slipway_home
from slipway.settings import get_settings

SLIPWAY = str(Path(sys.executable).parent / "slipway")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-output" / "studio"

needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing; run `make chromium`"
)


@dataclass
class Studio:
    url: str
    token: str
    home: Path
    process: subprocess.Popen[bytes]

    def session_cookies(self) -> dict[str, str]:
        """The cookies of a fresh sign-in with the token, as a browser would hold them."""
        import httpx

        signed_in = httpx.post(f"{self.url}/signin", data={"token": self.token})
        assert signed_in.status_code == 303, signed_in.text
        return dict(signed_in.cookies)


@contextmanager
def studio_server(home: Path, seed: Callable[[], None], **env: str) -> Iterator[Studio]:
    """Run ``seed`` with the SDK on ``home``, then a server on it that requires a token."""
    from slipway.platform import services

    with slipway_home(home):
        seed()
        token = services(get_settings()).tokens.create_token("studio-test").token
    port = free_port()
    command = [SLIPWAY, "server", "--port", str(port)]
    with run_server_process(command, env={"SLIPWAY_HOME": str(home), **env}, port=port) as process:
        yield Studio(f"http://127.0.0.1:{port}", token, home, process)


@dataclass
class Page:
    """A signed-in browser tab that records console errors."""

    tab: Any
    url: str
    errors: list[str]

    def open(self, path: str, screenshot: str | None = None) -> Any:
        response = self.tab.goto(self.url + path)
        assert response.status == 200, f"{path}: {response.status}"
        self.tab.wait_for_load_state("load")
        return self.saved(screenshot)

    def saved(self, screenshot: str | None) -> Any:
        """Wait for every chart to be drawn, save a screenshot, check the console."""
        for chart in self.tab.locator(".chart").all():
            chart.locator("xpath=self::*[@data-rendered='true']").wait_for(timeout=10_000)
        if screenshot:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.tab.screenshot(path=SCREENSHOTS / f"{screenshot}.png", full_page=True)
        assert self.errors == [], self.errors
        return self.tab


def watch(tab: Any) -> list[str]:
    """Collect the tab's console errors and uncaught exceptions."""
    errors: list[str] = []
    tab.on("console", lambda message: message.type == "error" and errors.append(message.text))
    tab.on("pageerror", lambda error: errors.append(str(error)))
    return errors


@contextmanager
def signed_in(studio: Studio, browser: Any) -> Iterator[Page]:
    """A new browser context signed in to ``studio`` through the sign-in form."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors = watch(tab)
    tab.goto(f"{studio.url}/signin")
    tab.fill("input[name=token]", studio.token)
    tab.click("button[type=submit]")
    tab.wait_for_url(f"{studio.url}/experiments")
    try:
        yield Page(tab, studio.url, errors)
    finally:
        context.close()


def figure(tab: Any, selector: str) -> list[dict[str, Any]]:
    """The traces plotly.js drew in an element: type, name and number of x values."""
    return tab.eval_on_selector(
        selector, "e => e.data.map(t => ({type: t.type, name: t.name, n: (t.x || []).length}))"
    )
