"""Baselines: statistics.json and constraints.json, checked against exact numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from monitor_support import platform, table
from slipway.monitor import DatasetFormat, DefaultModelMonitor
from slipway.monitor import _datasets as datasets
from slipway.monitor._profile import DatasetProfile
from slipway.monitor.baseline import profile_dataset, statistics_of
from slipway.monitor.drift import Weighted

ROWS = 20_000


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return table(ROWS, seed=7)


@pytest.fixture
def monitor(tmp_path: Path):
    with platform(tmp_path / "home"):
        yield DefaultModelMonitor(role="ignored", instance_count=1)


def _baseline(monitor, tmp_path: Path, frame: pd.DataFrame) -> tuple[dict, dict]:
    data = tmp_path / "train.csv"
    frame.to_csv(data, index=False)
    result = monitor.suggest_baseline(
        baseline_dataset=str(data),
        dataset_format=DatasetFormat.csv(header=True),
        output_s3_uri=str(tmp_path / "baseline"),
    )
    assert result.item_count == ROWS
    return monitor.baseline_statistics().body_dict, monitor.suggested_constraints().body_dict


def test_baseline_statistics_equal_exact_numpy_and_pandas_figures(monitor, tmp_path, frame):
    statistics, _ = _baseline(monitor, tmp_path, frame)
    assert statistics["version"] == 0
    assert statistics["dataset"] == {"item_count": ROWS}
    features = {f["name"]: f for f in statistics["features"]}
    assert [f["name"] for f in statistics["features"]] == ["age", "income", "state", "score"]
    assert {n: f["inferred_type"] for n, f in features.items()} == {
        "age": "Integral",
        "income": "Fractional",
        "state": "String",
        "score": "Fractional",
    }
    for name in ("age", "income", "score"):
        values = frame[name].dropna().to_numpy(dtype=float)
        numbers = features[name]["numerical_statistics"]
        assert numbers["common"] == {"num_present": len(values), "num_missing": ROWS - len(values)}
        assert numbers["mean"] == pytest.approx(values.mean(), rel=1e-12)
        assert numbers["sum"] == pytest.approx(values.sum(), rel=1e-12)
        assert numbers["std_dev"] == pytest.approx(values.std(), rel=1e-9)
        assert (numbers["min"], numbers["max"]) == (values.min(), values.max())
        kll = numbers["distribution"]["kll"]
        assert len(kll["buckets"]) == 10
        assert sum(b["count"] for b in kll["buckets"]) == pytest.approx(len(values))
        assert kll["buckets"][0]["lower_bound"] == values.min()
        assert kll["buckets"][-1]["upper_bound"] == values.max()
        assert kll["sketch"]["parameters"]["k"] == 2048.0
    strings = features["state"]["string_statistics"]
    counts = frame["state"].value_counts()
    assert strings["common"] == {"num_present": ROWS, "num_missing": 0}
    assert strings["distinct_count"] == 4.0
    buckets = {b["value"]: b["count"] for b in strings["distribution"]["categorical"]["buckets"]}
    assert buckets == counts.to_dict()


def test_kll_quantiles_from_the_written_sketch_are_within_the_error_bound(tmp_path):
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.lognormal(3, 1, 150_000), rng.normal(-5, 1, 50_000)])
    data = tmp_path / "skewed.parquet"
    pd.DataFrame({"x": values}).to_parquet(data)
    statistics = statistics_of(profile_dataset(str(data), "parquet"))
    sketch = statistics.features[0].numerical_statistics.distribution.kll.sketch
    assert sum(len(level) for level in sketch.data) < len(values) / 10  # a sketch, not a copy
    weighted = Weighted.of_levels(sketch.data)
    assert weighted.weights.sum() == len(values)
    ranks = np.linspace(0.01, 0.99, 99)
    estimates = weighted.quantiles(ranks)
    true_ranks = np.searchsorted(np.sort(values), estimates, side="right") / len(values)
    # KLL with k=2048 guarantees ~0.2% normalised rank error at 99% confidence.
    assert np.max(np.abs(true_ranks - ranks)) < 0.005


def test_profiles_of_chunks_merge_into_the_profile_of_the_whole(frame):
    whole = DatasetProfile()
    whole.update(pa.Table.from_pandas(frame, preserve_index=False))
    parts = [DatasetProfile() for _ in range(3)]
    for part, chunk in zip(parts, np.array_split(np.arange(ROWS), 3), strict=True):
        part.update(pa.Table.from_pandas(frame.iloc[chunk], preserve_index=False))
    merged = parts[0]
    merged.merge(parts[1])
    merged.merge(parts[2])
    assert merged.item_count == whole.item_count
    for name, column in whole.columns.items():
        other = merged.columns[name]
        assert (other.num_present, other.num_missing) == (column.num_present, column.num_missing)
        assert other.moments.mean == pytest.approx(column.moments.mean, rel=1e-12)
        assert other.moments.std_dev == pytest.approx(column.moments.std_dev, rel=1e-9)
        assert other.kll.n == column.kll.n
        assert round(other.hll.get_estimate()) == round(column.hll.get_estimate())
        assert other.categories() == column.categories()


def test_csv_without_header_json_lines_and_parquet_profile_alike(tmp_path, frame):
    frame.to_csv(tmp_path / "h.csv", index=False)
    frame.to_csv(tmp_path / "n.csv", index=False, header=False)
    frame.to_json(tmp_path / "d.jsonl", orient="records", lines=True)
    frame.to_parquet(tmp_path / "d.parquet")
    results = {
        fmt: statistics_of(profile_dataset(str(tmp_path / path), fmt))
        for fmt, path in [
            ("csv", "h.csv"),
            ("csv-noheader", "n.csv"),
            ("json", "d.jsonl"),
            ("parquet", "d.parquet"),
        ]
    }
    assert [f.name for f in results["csv-noheader"].features] == ["_c0", "_c1", "_c2", "_c3"]
    for stats in results.values():
        income = stats.features[1].numerical_statistics
        assert income.mean == pytest.approx(frame["income"].mean(), rel=1e-12)
        assert [f.inferred_type for f in stats.features] == [
            "Integral",
            "Fractional",
            "String",
            "Fractional",
        ]


def test_a_csv_column_that_turns_to_text_late_in_the_file_is_typed_from_all_rows(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(datasets, "CSV_BLOCK_BYTES", 4096)
    numbers = [str(i % 50) for i in range(5000)]
    numbers[4500] = "unknown"
    (tmp_path / "late.csv").write_text(
        "code,value\n" + "".join(f"{n},{i / 3:.3f}\n" for i, n in enumerate(numbers))
    )
    statistics = statistics_of(profile_dataset(str(tmp_path / "late.csv"), "csv"))
    code = statistics.features[0]
    assert code.inferred_type == "String"
    assert code.string_statistics.common.num_present == 5000
    assert code.string_statistics.distinct_count == 51


def test_suggested_constraints_hold_completeness_non_negativity_and_domains(
    monitor, tmp_path, frame
):
    _, constraints = _baseline(monitor, tmp_path, frame)
    features = {f["name"]: f for f in constraints["features"]}
    assert features["age"]["completeness"] == pytest.approx(frame["age"].notna().mean())
    assert features["age"]["num_constraints"] == {"is_non_negative": True}
    assert features["income"]["num_constraints"] == {"is_non_negative": False}
    assert features["state"]["string_constraints"] == {"domains": ["CA", "NY", "TX", "WA"]}
    assert features["state"]["monitoringConfigOverrides"] == {}
    assert "string_constraints" not in features["score"]
    assert constraints["monitoring_config"] == {
        "evaluate_constraints": "Enabled",
        "emit_metrics": "Enabled",
        "datatype_check_threshold": 0.1,
        "domain_content_threshold": 0.1,
        "distribution_constraints": {
            "perform_comparison": "Enabled",
            "comparison_threshold": 0.1,
            "comparison_method": "Robust",
            "categorical_drift_method": "LInfinity",
            "numerical_drift_method": "LInfinity",
        },
    }


def test_high_cardinality_strings_get_no_domain(tmp_path):
    ids = pd.DataFrame({"id": [f"user-{i}" for i in range(3000)]})
    ids.to_csv(tmp_path / "ids.csv", index=False)
    from slipway.monitor.baseline import suggest_constraints

    profile = profile_dataset(str(tmp_path / "ids.csv"), "csv")
    assert suggest_constraints(profile).features[0].string_constraints is None
    stats = json.loads(json.dumps(statistics_of(profile).model_dump()))
    assert abs(stats["features"][0]["string_statistics"]["distinct_count"] - 3000) < 3000 * 0.03


def test_a_missing_data_set_or_unknown_format_is_refused_with_the_reason(monitor, tmp_path):
    from slipway.errors import NotFound, ValidationError

    with pytest.raises(NotFound, match="not found"):
        monitor.suggest_baseline(str(tmp_path / "nope.csv"), output_s3_uri=str(tmp_path / "o"))
    with pytest.raises(ValidationError, match="dataset format 'xlsx'"):
        monitor.suggest_baseline(str(tmp_path / "nope.csv"), "xlsx", str(tmp_path / "o"))
