"""Work the server does besides answering requests: adopting jobs nobody watches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

log = logging.getLogger("slipway.server")
_ADOPT_EVERY_SECONDS = 10.0


# The capabilities whose jobs are watched by a thread of the process that owns them.
_JOB_KINDS = ("training", "tuning", "transform", "automl")


async def _adopt_orphans_forever(app: FastAPI) -> None:
    """Jobs survive a server restart: the restarted server watches them again."""
    while True:
        for kind in _JOB_KINDS:
            try:
                service = getattr(app.state.services, kind)
                adopted = await run_in_threadpool(service.adopt_orphans)
                if adopted:
                    log.info("watching %s jobs again: %s", kind, ", ".join(adopted))
            except Exception:
                log.exception("adopting orphaned %s jobs failed; trying again later", kind)
        await asyncio.sleep(_ADOPT_EVERY_SECONDS)


async def _monitor_forever(app: FastAPI) -> None:
    """Model Monitor's scheduler: due executions, orphaned executions, alert retries."""
    from slipway.monitor.scheduler import run_forever

    await run_forever(app.state.services.monitor)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    tasks = [
        asyncio.create_task(_adopt_orphans_forever(app)),
        asyncio.create_task(_monitor_forever(app)),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
