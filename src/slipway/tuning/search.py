"""The tuning job's search, on Optuna: the space, the sampler, the pruner, warm-start trials.

Optuna has no reverse-logarithmic scale, so such a range is searched as ``1 - x`` with
``x`` log-scaled over ``(1 - max, 1 - min]``: values crowd towards 1, as the reference's
ReverseLogarithmic scaling does. Hyperparameters go from Optuna's values to the job's
values (and back, for warm start) only through `SearchSpace`.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from slipway.tuning.models import (
    EarlyStoppingType,
    ObjectiveType,
    ScalingType,
    Strategy,
    TuningJobConfig,
)

# Optuna logs every told trial at INFO; the tuning job reports progress itself.
optuna.logging.set_verbosity(logging.WARNING)

# Early stopping "Auto": stop a job whose objective at a step is worse than the median of
# the earlier jobs at that step, once a few jobs have set the bar.
_AUTO_STARTUP_TRIALS = 3
_AUTO_WARMUP_STEPS = 1


class SearchSpace:
    """The ranges of one tuning job as Optuna distributions."""

    def __init__(self, config: TuningJobConfig) -> None:
        ranges = config.parameter_ranges
        self.distributions: dict[str, BaseDistribution] = {}
        self._reversed: set[str] = set()
        for r in ranges.integer_parameter_ranges:
            log = r.scaling_type == ScalingType.LOGARITHMIC
            self.distributions[r.name] = IntDistribution(int(r.low), int(r.high), log=log)
        for r in ranges.continuous_parameter_ranges:
            if r.scaling_type == ScalingType.REVERSE_LOGARITHMIC:
                self._reversed.add(r.name)
                low, high = 1.0 - r.high, 1.0 - r.low
                self.distributions[r.name] = FloatDistribution(low, high, log=True)
            else:
                log = r.scaling_type == ScalingType.LOGARITHMIC
                self.distributions[r.name] = FloatDistribution(r.low, r.high, log=log)
        for c in ranges.categorical_parameter_ranges:
            self.distributions[c.name] = CategoricalDistribution(c.values)

    def hyperparameters(self, params: dict[str, Any]) -> dict[str, Any]:
        """The job's hyperparameters for a trial's Optuna values."""
        return {
            name: 1.0 - value if name in self._reversed else value for name, value in params.items()
        }

    def params(self, tuned: dict[str, str]) -> dict[str, Any] | None:
        """Optuna values for an earlier job's tuned hyperparameters; None if out of space."""
        params: dict[str, Any] = {}
        for name, distribution in self.distributions.items():
            if name not in tuned:
                return None
            try:
                value = _parse(distribution, tuned[name])
            except ValueError:
                return None
            if name in self._reversed:
                value = 1.0 - value
            if not distribution._contains(distribution.to_internal_repr(value)):
                return None
            params[name] = value
        return params

    def grid(self) -> dict[str, list[Any]]:
        grid: dict[str, list[Any]] = {}
        for name, distribution in self.distributions.items():
            if isinstance(distribution, IntDistribution):
                grid[name] = list(range(distribution.low, distribution.high + 1))
            elif isinstance(distribution, CategoricalDistribution):
                grid[name] = list(distribution.choices)
        return grid


def _parse(distribution: BaseDistribution, text: str) -> Any:
    if isinstance(distribution, IntDistribution):
        number = float(text)
        if not number.is_integer():
            raise ValueError(text)
        return int(number)
    if isinstance(distribution, FloatDistribution):
        number = float(text)
        if not math.isfinite(number):
            raise ValueError(text)
        return number
    return text


def format_value(value: Any) -> str:
    """A tuned value as the reference's TunedHyperParameters hold it: a string."""
    if isinstance(value, float):
        return repr(value)
    return str(value)


class _GridSampler(optuna.samplers.GridSampler):
    """The grid, asked and told by the tuning loop, which knows when the grid is done.

    Optuna's grid sampler stops the study once every point has run, which only works
    inside `Study.optimize`; the loop never asks for more jobs than the grid has.
    """

    def after_trial(self, study, trial, state, values) -> None:  # type: ignore[override]
        return None


def create_study(config: TuningJobConfig, space: SearchSpace) -> optuna.Study:
    """An in-memory study: the tuning job's rows are the durable record, not Optuna's."""
    seed = config.random_seed
    sampler: optuna.samplers.BaseSampler
    if config.strategy == Strategy.GRID:
        sampler = _GridSampler(space.grid(), seed=seed)
    elif config.strategy == Strategy.RANDOM:
        sampler = optuna.samplers.RandomSampler(seed=seed)
    else:  # Bayesian, and Hyperband's configurations between its brackets
        sampler = optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=min(10, max(2, config.max_jobs // 3))
        )
    pruner: optuna.pruners.BasePruner
    if config.strategy == Strategy.HYPERBAND:
        pruner = optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3)
    elif config.training_job_early_stopping_type == EarlyStoppingType.AUTO:
        pruner = optuna.pruners.MedianPruner(
            n_startup_trials=_AUTO_STARTUP_TRIALS, n_warmup_steps=_AUTO_WARMUP_STEPS
        )
    else:
        pruner = optuna.pruners.NopPruner()
    objective = config.hyper_parameter_tuning_job_objective
    direction = "maximize" if objective.type == ObjectiveType.MAXIMIZE else "minimize"
    return optuna.create_study(direction=direction, sampler=sampler, pruner=pruner)


def finished_trial(
    space: SearchSpace,
    tuned: dict[str, str],
    value: float | None,
    intermediate: dict[int, float],
    state: TrialState,
) -> FrozenTrial | None:
    """An earlier job as a finished trial (warm start, or a tuning job watched anew)."""
    params = space.params(tuned)
    if params is None:
        return None
    if state == TrialState.COMPLETE and value is None:
        state = TrialState.FAIL
    return optuna.trial.create_trial(
        state=state,
        value=value if state == TrialState.COMPLETE else None,
        params=params,
        distributions=space.distributions,
        intermediate_values=intermediate,
    )
