"""The data plane's parts in-process: model cache limits, single-flight loads, batching."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from slipway.inference import InsufficientMemory, PredictionError, PredictionTimeout
from slipway.serving.batching import Scheduler
from slipway.serving.cache import ModelCache
from slipway.serving.engine import Engine
from slipway.serving.metrics import CacheMetrics, render, sample
from slipway.serving.spec import EndpointSpec, VariantSpec
from slipway.settings import Settings


class FakeModel:
    """A LoadedModel stand-in: predicts row sums, or fails on rows holding -1."""

    batchable = True
    flavour = "fake"

    def __init__(self, nbytes: int = 1000, delay: float = 0.0) -> None:
        self.nbytes = nbytes
        self.delay = delay
        self.calls: list[int] = []

    def predict_frame(self, data):
        self.calls.append(len(data))
        time.sleep(self.delay)
        if (data == -1).any():
            raise PredictionError("ValueError: -1 is not allowed")
        return data.sum(axis=1)


def _cache(budget: int | None = None, max_models: int | None = None) -> ModelCache:
    return ModelCache(budget, max_models, CacheMetrics("test", "AllTraffic"))


def test_multi_model_cache_evicts_least_recently_used_model_by_count():
    cache = _cache(max_models=2)
    for key in ("a", "b"):
        cache.get_or_load(key, FakeModel)
    cache.get("a")  # a is now the most recently used
    cache.get_or_load("c", FakeModel)
    assert cache.keys() == ["a", "c"]


def test_multi_model_cache_evicts_to_stay_under_its_memory_budget():
    cache = _cache(budget=3500)
    for key in ("a", "b", "c"):
        cache.get_or_load(key, lambda: FakeModel(1000))
    cache.get_or_load("d", lambda: FakeModel(1500))
    assert cache.keys() == ["b", "c", "d"]
    assert cache.nbytes == 3500
    with pytest.raises(InsufficientMemory, match="budget of 3500 bytes"):
        cache.get_or_load("huge", lambda: FakeModel(5000))
    assert cache.keys() == ["b", "c", "d"]


def test_metrics_name_the_loaded_models_until_they_are_evicted_or_removed():
    # Its own endpoint label: the gauges of the other tests' caches live in this process too.
    cache = ModelCache(None, 1, CacheMetrics("evicting", "AllTraffic"))
    labels = {"endpoint": "evicting", "variant": "AllTraffic"}

    def loaded() -> dict[str, float]:
        text = render()[0].decode()  # what the data plane's /metrics answers
        return {m: sample(text, "slipway_model_loaded", model=m, **labels) for m in "ab"}

    cache.get_or_load("a", FakeModel)
    first = loaded()
    cache.get_or_load("b", FakeModel)  # a is evicted to stay at one model
    second = loaded()
    cache.remove("b")
    assert first == {"a": 1, "b": 0}
    assert second == {"a": 0, "b": 1}
    assert loaded() == {"a": 0, "b": 0}


def test_concurrent_first_calls_load_a_model_once():
    cache = _cache()
    loads = []

    def load():
        loads.append(1)
        time.sleep(0.2)
        return FakeModel()

    threads = [threading.Thread(target=cache.get_or_load, args=("a", load)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1


def test_concurrent_first_calls_through_the_engine_load_once(monkeypatch, tmp_path):
    loads = []

    def fake_load(uri, environment=None, settings=None):
        loads.append(uri)
        time.sleep(0.2)
        return FakeModel()

    monkeypatch.setattr("slipway.serving.runtime.load_model", fake_load)
    variant = VariantSpec("AllTraffic", "m", True, str(tmp_path), (), 1.0, None, None, None, 5)
    spec = EndpointSpec("e", "InService", 1, (variant,), None)

    class Source:
        def endpoint_spec(self, name):
            return spec

        def endpoint_version(self, name):
            return (1, "InService")

    async def main():
        engine = Engine(Source(), Settings(home=tmp_path))
        runtime = await engine.lookup("e")
        variant_runtime = runtime.variants[0]
        models = await asyncio.gather(
            *(engine.model(variant_runtime, "a.tar.gz") for _ in range(8))
        )
        return models

    models = asyncio.run(main())
    assert len(loads) == 1
    assert all(model is models[0] for model in models)


def _run(coroutine_factory):
    async def main():
        scheduler = Scheduler(asyncio.get_running_loop())
        return await coroutine_factory(scheduler), scheduler

    return asyncio.run(main())


def test_requests_arriving_together_share_one_predict_call():
    model = FakeModel(delay=0.05)

    async def go(scheduler):
        rows = [np.full((i + 1, 3), float(i)) for i in range(6)]
        return await asyncio.gather(*(scheduler.predict(model, r, 5) for r in rows))

    results, _ = _run(go)
    assert [r.tolist() for r, _ in results] == [[3 * i] * (i + 1) for i in range(6)]
    assert len(model.calls) < 6  # the first ran alone, the rest were stacked


def test_a_bad_request_in_a_batch_fails_alone():
    model = FakeModel(delay=0.05)

    async def go(scheduler):
        good = [scheduler.predict(model, np.ones((1, 2)), 5) for _ in range(4)]
        bad = scheduler.predict(model, np.array([[-1.0, 0.0]]), 5)
        return await asyncio.gather(*good, bad, return_exceptions=True)

    results, _ = _run(go)
    assert [r[0].tolist() for r in results[:4]] == [[2.0]] * 4
    assert isinstance(results[4], PredictionError)


def test_a_stuck_prediction_times_out_and_the_next_requests_still_run():
    stuck = FakeModel(delay=30)
    fine = FakeModel()
    reported = []

    async def go(scheduler):
        scheduler.on_stuck = lambda: reported.append(True)
        hanging = asyncio.ensure_future(scheduler.predict(stuck, np.ones((1, 2)), 0.3))
        await asyncio.sleep(0.05)
        waiting = asyncio.ensure_future(scheduler.predict(fine, np.ones((1, 2)), 5))
        with pytest.raises(PredictionTimeout):
            await hanging
        return await waiting

    (result, _), scheduler = _run(go)
    assert result.tolist() == [2.0]
    assert reported == [True] and scheduler.stuck


def test_a_job_queued_behind_a_younger_round_still_finds_the_stuck_thread():
    slow = FakeModel(delay=0.4)
    stuck = FakeModel(delay=30)
    reported = []

    async def go(scheduler):
        scheduler.on_stuck = lambda: reported.append(True)
        first = asyncio.ensure_future(scheduler.predict(slow, np.ones((1, 2)), 5))
        await asyncio.sleep(0.05)
        with pytest.raises(PredictionTimeout):
            await scheduler.predict(stuck, np.ones((1, 2)), 0.5)
        await first
        await asyncio.sleep(0.6)  # the stuck round reaches the timeout; it is abandoned

    _, scheduler = _run(go)
    assert reported == [True] and scheduler.stuck
