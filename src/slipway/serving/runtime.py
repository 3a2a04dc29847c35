"""An endpoint's variants in one worker process: model caches, target models, weights.

Built from one version of an endpoint's spec by the Engine, and replaced whole when the
spec changes. A multi-model variant's memory budget and model count are per serving
instance, so each of the instance's worker processes gets an even share.
"""

from __future__ import annotations

import os
import random
import time
from bisect import bisect_right
from itertools import accumulate

from slipway.inference import LoadedModel, load_model
from slipway.inference._fetch import local_path
from slipway.inference.errors import BadPayload, InferenceError, ModelNotFound
from slipway.serving.cache import ModelCache
from slipway.serving.metrics import CacheMetrics
from slipway.serving.spec import EndpointSpec, VariantSpec
from slipway.settings import Settings


class EndpointNotFound(ModelNotFound):
    """No endpoint of that name exists."""

    code = "EndpointNotFound"


class EndpointNotServing(InferenceError):
    """The endpoint exists but is not InService or Updating."""

    code = "EndpointNotServing"


def physical_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_target_model(target: str) -> str:
    """A TargetModel must be a relative key below the prefix: no '..', no leading '/'."""
    parts = target.split("/")
    if (
        not target
        or len(target) > 1024
        or target.startswith("/")
        or any(p in ("", ".", "..") for p in parts)
        or not target.isprintable()
    ):
        raise BadPayload(
            f"TargetModel {target[:80]!r} is not valid: give the model's key relative to the "
            "endpoint's multi-model prefix, e.g. 'model-a.tar.gz' or 'team/model-a.tar.gz'"
        )
    return target


class VariantRuntime:
    """One production variant in one process: its model cache and how to load models."""

    def __init__(self, endpoint: str, spec: VariantSpec, settings: Settings, workers: int) -> None:
        self.endpoint = endpoint
        self.spec = spec
        self.settings = settings
        self.environment = spec.env
        self.timeout = spec.timeout or settings.invocation_timeout
        budget = max_models = None
        if spec.multi_model:
            total = spec.cache_bytes or physical_memory() // 2
            budget = max(total // max(workers, 1), 1)
            if spec.max_models is not None:
                max_models = max(spec.max_models // max(workers, 1), 1)
        self.cache = ModelCache(budget, max_models, CacheMetrics(endpoint, spec.variant_name))
        self.explicit: dict[str, str] = {}  # models loaded through the container API: url

    def key(self, target_model: str | None) -> str:
        if self.spec.multi_model:
            if not target_model:
                raise BadPayload(
                    f"endpoint {self.endpoint!r} is a multi-model endpoint: name the model "
                    "with TargetModel (header X-Amzn-SageMaker-Target-Model)"
                )
            return check_target_model(target_model)
        if target_model:
            raise BadPayload(
                f"TargetModel {target_model!r} was given, but endpoint {self.endpoint!r} "
                "serves a single model; leave TargetModel out"
            )
        return ""

    def label(self, key: str) -> str:
        return key or self.spec.model_name

    def uri(self, key: str) -> str:
        if key in self.explicit:
            return self.explicit[key]
        return self.spec.target_uri(key) if self.spec.multi_model else self.spec.model_data_url

    def load_sync(self, key: str, uri: str | None = None) -> tuple[LoadedModel, bool]:
        """The model under ``key`` (loading it from ``uri`` or its usual place)."""
        source = uri or self.uri(key)

        def load() -> LoadedModel:
            return load_model(source, environment=self.environment, settings=self.settings)

        return self.cache.get_or_load(key, load, _expected_bytes(source))


def _expected_bytes(uri: str) -> int:
    path = local_path(uri)
    try:
        return path.stat().st_size if path is not None and path.is_file() else 0
    except OSError:
        return 0


class EndpointRuntime:
    """An endpoint's variants in one process, built from one version of its spec."""

    def __init__(self, spec: EndpointSpec, settings: Settings, workers: int) -> None:
        self.spec = spec
        self.status = spec.status
        self.variants = [VariantRuntime(spec.name, v, settings, workers) for v in spec.variants]
        self.by_name = {v.spec.variant_name: v for v in self.variants}
        self._cumulative = list(accumulate(v.spec.weight for v in self.variants))
        self.checked = time.monotonic()
        self.refreshing = False

    def check_servable(self) -> None:
        if self.status not in ("InService", "Updating") or not self.variants:
            raise EndpointNotServing(
                f"endpoint {self.spec.name!r} is {self.status}, not InService; see "
                f"`slipway endpoints show {self.spec.name}`"
            )

    def pick(self, target_variant: str | None) -> VariantRuntime:
        if target_variant:
            found = self.by_name.get(target_variant)
            if found is None:
                raise BadPayload(
                    f"TargetVariant {target_variant!r} is not a variant of endpoint "
                    f"{self.spec.name!r}; it has {', '.join(self.by_name)}"
                )
            return found
        if len(self.variants) == 1:
            return self.variants[0]
        point = random.random() * self._cumulative[-1]
        return self.variants[min(bisect_right(self._cumulative, point), len(self.variants) - 1)]

    def close(self) -> None:
        for variant in self.variants:
            variant.cache.clear()
