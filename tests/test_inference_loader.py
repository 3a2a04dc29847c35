"""load_model: flavours detected from content, trust rules, custom code, codecs."""

from __future__ import annotations

import io

import numpy as np
import orjson
import pytest

from serving_support import (
    DOUBLER,
    IRIS_ROW,
    custom_model,
    iris,
    lightgbm_model,
    onnx_model,
    pack,
    pickle_model,
    random_forest_model,
    sklearn_model,
    xgboost_model,
)
from slipway.inference import (
    BadPayload,
    ModelLoadError,
    ModelNotFound,
    NotAcceptable,
    PredictionError,
    UnsupportedContentType,
    UntrustedModel,
    load_model,
)
from slipway.settings import Settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home")


def _json(body: bytes):
    return orjson.loads(body)


@pytest.mark.parametrize(
    ("build", "flavour"),
    [
        (sklearn_model, "sklearn"),
        (xgboost_model, "xgboost"),
        (lambda f: xgboost_model(f, "ubj"), "xgboost"),
        (lightgbm_model, "lightgbm"),
        (onnx_model, "onnx"),
    ],
    ids=["skops", "xgboost-json", "xgboost-ubj", "lightgbm", "onnx"],
)
def test_flavour_is_detected_from_the_archive_content(tmp_path, settings, build, flavour):
    archive = pack(build(tmp_path / "model"), tmp_path / "model.tar.gz")
    model = load_model(archive, settings=settings)
    assert model.flavour == flavour
    width = 30 if flavour == "xgboost" else 4
    body, content_type = model.predict(orjson.dumps([[0.5] * width] * 3), "application/json")
    assert content_type == "application/json"
    assert len(_json(body)) == 3
    assert model.nbytes > 0


def test_sklearn_model_answers_csv_json_and_npy(tmp_path, settings):
    model = load_model(sklearn_model(tmp_path / "m"), settings=settings)
    csv_body, csv_type = model.predict(
        b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n", "text/csv", "text/csv"
    )
    assert (csv_body, csv_type) == (b"0\n2", "text/csv")
    wrapped, _ = model.predict(orjson.dumps({"instances": [IRIS_ROW]}), "application/json")
    assert _json(wrapped) == {"predictions": [0]}
    buffer = io.BytesIO()
    np.save(buffer, np.array([IRIS_ROW]))
    npy_body, _ = model.predict(buffer.getvalue(), "application/x-npy", "application/json")
    assert _json(npy_body) == [0]
    features, _ = iris()
    assert model.predict_frame(features).shape == (150,)


def test_malformed_csv_names_the_line(tmp_path, settings):
    model = load_model(sklearn_model(tmp_path / "m"), settings=settings)
    with pytest.raises(BadPayload, match="line 2 has 3 values but line 1 has 4"):
        model.predict(b"1,2,3,4\n1,2,3\n", "text/csv")
    with pytest.raises(BadPayload, match=r"line 3, column 2: 'abc' is not a number"):
        model.predict(b"1,2,3,4\n\n1,abc,3,4\n", "text/csv")


def test_bad_content_type_and_accept_are_refused(tmp_path, settings):
    model = load_model(sklearn_model(tmp_path / "m"), settings=settings)
    with pytest.raises(UnsupportedContentType, match="text/plain"):
        model.predict(b"1,2,3,4", "text/plain")
    with pytest.raises(NotAcceptable, match="image/png"):
        model.predict(b"1,2,3,4", "text/csv", "image/png")
    with pytest.raises(BadPayload, match="not valid JSON"):
        model.predict(b"[[1,2", "application/json")


def test_wrong_width_is_a_prediction_error(tmp_path, settings):
    model = load_model(sklearn_model(tmp_path / "m"), settings=settings)
    with pytest.raises(PredictionError, match="features"):
        model.predict(b"1,2", "text/csv")


def test_pickle_loads_only_from_a_trusted_source(tmp_path, settings):
    folder = pickle_model(tmp_path / "m")
    with pytest.raises(UntrustedModel, match="SLIPWAY_TRUSTED_MODEL_SOURCES") as caught:
        load_model(folder, settings=settings)
    assert "skops" in caught.value.message
    trusted = Settings(home=tmp_path / "home", trusted_model_sources=[str(tmp_path)])
    model = load_model(folder, settings=trusted)
    assert model.flavour == "pickle"
    assert _json(model.predict(orjson.dumps([IRIS_ROW]), "application/json")[0]) == [0]


def test_skops_refuses_types_outside_the_trusted_list(tmp_path):
    folder = random_forest_model(tmp_path / "m")
    strict = Settings(home=tmp_path / "home", trusted_skops_types=["numpy."])
    with pytest.raises(UntrustedModel, match=r"sklearn\.tree\._tree\.Tree"):
        load_model(folder, settings=strict)
    allowed = Settings(home=tmp_path / "home", trusted_skops_types=["sklearn.tree._tree.Tree"])
    assert load_model(folder, settings=allowed).flavour == "sklearn"


def test_custom_code_handlers_are_called_as_in_the_reference(tmp_path, settings):
    archive = pack(custom_model(tmp_path / "m", DOUBLER), tmp_path / "m.tar.gz")
    model = load_model(archive, settings=settings)
    assert model.flavour == "custom" and not model.batchable
    body, content_type = model.predict(b"[1, 2.5]", "application/json", "application/json")
    assert _json(body) == {"doubled": [2, 5.0]}
    assert content_type == "application/json"


def test_custom_code_gets_defaults_and_context(tmp_path, settings):
    folder = sklearn_model(tmp_path / "m")
    custom_model(
        folder,
        """
        def predict_fn(data, model, context):
            return model.predict_proba(data)[:, 0] + (0 if context.model_dir else 1)
        """,
    )
    model = load_model(folder, settings=settings)
    body, _ = model.predict(b"5.1,3.5,1.4,0.2", "text/csv", "text/csv")
    assert float(body) > 0.9


def test_transform_fn_cannot_be_combined_with_other_handlers(tmp_path, settings):
    folder = custom_model(
        tmp_path / "m",
        """
        def model_fn(model_dir):
            return None
        def transform_fn(model, data, content_type, accept):
            return data
        def predict_fn(data, model):
            return data
        """,
    )
    with pytest.raises(ModelLoadError, match="cannot be combined"):
        load_model(folder, settings=settings)


def test_transform_fn_alone_answers(tmp_path, settings):
    folder = custom_model(
        tmp_path / "m",
        """
        def model_fn(model_dir):
            return "upper"
        def transform_fn(model, data, content_type, accept):
            return data.upper(), "text/plain"
        """,
    )
    model = load_model(folder, settings=settings)
    assert model.predict(b"abc", "text/csv", "text/plain") == (b"ABC", "text/plain")


def test_missing_and_empty_models_are_clear_errors(tmp_path, settings):
    with pytest.raises(ModelNotFound, match="nothing is stored there"):
        load_model(tmp_path / "absent.tar.gz", settings=settings)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.md").write_text("hello")
    with pytest.raises(ModelLoadError, match="no model found"):
        load_model(tmp_path / "empty", settings=settings)
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(ModelLoadError, match="cannot unpack"):
        load_model(broken, settings=settings)


def test_archives_are_unpacked_once(tmp_path, settings):
    archive = pack(sklearn_model(tmp_path / "m"), tmp_path / "m.tar.gz")
    first = load_model(archive, settings=settings)
    second = load_model(archive, settings=settings)
    assert first.path == second.path
    assert len(list(settings.resolved_model_cache_dir.iterdir())) == 2  # entry + lock
