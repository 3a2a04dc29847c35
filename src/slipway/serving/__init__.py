"""Hosting: models behind endpoints, single or many per endpoint, with data capture.

Control plane (entities, REST, SDK, CLI) in ``models``/``service``/``api``/``sdk``/``cli``;
data plane (the hot path of invocations) in ``gateway``/``dataplane``/``engine``/
``batching``/``cache``/``capture``/``v2``/``container``; model loading is shared with the
other capabilities in ``slipway.inference``.

The public names load on first use, so the server does not import the SDK side.
"""

from __future__ import annotations

from slipway._lazy import lazy_exports

_EXPORTS = {
    "Model": "slipway.serving.sdk",
    "MultiDataModel": "slipway.serving.sdk",
    "Predictor": "slipway.serving.sdk",
    "DataCaptureConfig": "slipway.serving.sdk",
    "wait_for_endpoint": "slipway.serving.sdk",
    "JSONSerializer": "slipway.serving.serializers",
    "CSVSerializer": "slipway.serving.serializers",
    "NumpySerializer": "slipway.serving.serializers",
    "IdentitySerializer": "slipway.serving.serializers",
    "JSONDeserializer": "slipway.serving.serializers",
    "CSVDeserializer": "slipway.serving.serializers",
    "NumpyDeserializer": "slipway.serving.serializers",
    "BytesDeserializer": "slipway.serving.serializers",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
