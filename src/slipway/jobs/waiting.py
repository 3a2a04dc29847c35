"""Waiting for a job to end, embedded or over HTTP: the one polling loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    read: Callable[[], T], done: Callable[[T], bool], timeout: float | None, poll: float
) -> T:
    """Read until ``done`` holds or ``timeout`` seconds have passed; the last reading."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        found = read()
        if done(found) or (deadline is not None and time.monotonic() > deadline):
            return found
        time.sleep(poll)
