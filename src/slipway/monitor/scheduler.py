"""The scheduler loop that ``slipway server`` runs: a tick every few seconds, or at once
when a schedule is created. A failing tick is logged and the loop goes on."""

from __future__ import annotations

import asyncio
import logging

from starlette.concurrency import run_in_threadpool

from slipway.monitor.service import MonitorService

log = logging.getLogger("slipway.monitor")
TICK_SECONDS = 10.0
_POLL_SECONDS = 0.25


async def run_forever(monitor: MonitorService, every: float = TICK_SECONDS) -> None:
    loop = asyncio.get_running_loop()
    while True:
        monitor.wake.clear()
        try:
            started = await run_in_threadpool(monitor.tick)
            if started:
                log.info("monitoring executions started: %s", ", ".join(started))
        except Exception:
            log.exception("the monitoring scheduler failed a tick; trying again later")
        # Polled rather than waited on in a thread, so shutdown never waits for a tick.
        deadline = loop.time() + every
        while not monitor.wake.is_set() and loop.time() < deadline:
            await asyncio.sleep(_POLL_SECONDS)
