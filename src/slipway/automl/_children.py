"""An AutoML job's children (its candidates and its tuning job): waiting for them to end,
and stopping them, whether the user stopped the job, the budget ran out, or the job's
watcher died and another process took it over."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from slipway.errors import Conflict, NotFound
from slipway.jobs.models import JobKind, SecondaryStatus

if TYPE_CHECKING:
    from slipway.automl.service import AutoMLService

log = logging.getLogger("slipway.automl")
POLL = 0.25
# How long stopped candidates get to end; orphaned ones must first be adopted (15 s silence).
_CHILDREN_END_SECONDS = 60.0


def wait_for(
    service: AutoMLService,
    names: list[str],
    until: float,
    check_stop: Callable[[], None],
    started_only: bool = False,
) -> bool:
    """Wait for training jobs to end; at `until` stop the unfinished ones and say so (True).

    With `started_only`, waiting ends once every job holds a training slot (it has left
    the Starting stage, where it queues for one) or has ended. `check_stop` is called on
    every poll, so that a stop asked for meanwhile interrupts the wait.
    """
    while True:
        check_stop()
        jobs = [service.jobs.get_job(JobKind.TRAINING, n) for n in names]
        if all(
            job.status.is_final
            or (started_only and job.secondary_status != SecondaryStatus.STARTING)
            for job in jobs
        ):
            return False
        if time.time() >= until:
            for job in jobs:
                if not job.status.is_final:
                    with contextlib.suppress(Conflict, NotFound):
                        service.training.stop_training_job(job.job_name)
            for n in names:
                service.training.wait(n)
            return True
        time.sleep(POLL)


def stop_children(service: AutoMLService, name: str) -> None:
    """Stop the tuning job and every running candidate, and wait until they have ended."""
    with contextlib.suppress(Conflict, NotFound):
        service.tuning.stop_hyper_parameter_tuning_job(name)
    for child in _running_candidates(service, name):
        with contextlib.suppress(Conflict, NotFound):
            service.training.stop_training_job(child)
    grace = service.settings.job_stop_grace_seconds
    until = time.monotonic() + _CHILDREN_END_SECONDS + grace
    while _running_candidates(service, name) or _tuning_running(service, name):
        if time.monotonic() > until:
            log.warning("AutoML job %s: some candidates did not stop in time", name)
            return
        # Children watched by a process that died (an earlier watcher of this job) end
        # only once someone watches them again.
        service.training.adopt_orphans()
        service.tuning.adopt_orphans()
        time.sleep(4 * POLL)


def _running_candidates(service: AutoMLService, name: str) -> list[str]:
    job = service.jobs.get_job(JobKind.AUTOML, name)
    return [
        child.training_job_name
        for child in service.candidate_jobs(job)
        if not child.training_job_status.is_final
    ]


def _tuning_running(service: AutoMLService, name: str) -> bool:
    try:
        tuning = service.tuning.describe_hyper_parameter_tuning_job(name)
    except NotFound:
        return False
    return not tuning.hyper_parameter_tuning_job_status.is_final
