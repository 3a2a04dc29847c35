"""One monitoring execution: read the window's captures, profile, check, write the files.

Runs in a worker thread of the process that claimed the execution. The files are made in
a local folder first (the container contract's ``output_path``), where a post-analytics
script may add its own, and then uploaded; nothing is written to the output location
unless the analysis got that far, and earlier executions' files are never touched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec

from slipway.errors import SlipwayError
from slipway.monitor import capture, checks, quality, report
from slipway.monitor import formats as f
from slipway.monitor._profile import DatasetProfile
from slipway.monitor.baseline import statistics_of
from slipway.monitor.models import CreateMonitoringSchedule, MonitoringType

_ENV_LOCK = threading.Lock()  # scripts read the contract's variables from os.environ


class Stopped(Exception):
    """The execution was asked to stop."""


@dataclass
class Context:
    name: str
    config: CreateMonitoringSchedule
    capture_uri: str
    start: dt.datetime
    end: dt.datetime
    output_uri: str
    should_stop: Callable[[], bool]
    log: Callable[[str], None]
    upload: Callable[[str, Path], None]


@dataclass
class Result:
    violations: list[f.Violation] = field(default_factory=list)
    metrics: list[checks.FeatureMetric] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    record_count: int = 0
    unparseable: int = 0
    exit_message: str = ""


def run(ctx: Context) -> Result:
    folder = Path(tempfile.mkdtemp(prefix=f"slipway-monitor-{ctx.name}-"))
    try:
        if ctx.config.monitoring_type == MonitoringType.MODEL_QUALITY:
            result = _model_quality(ctx, folder)
        else:
            result = _data_quality(ctx, folder)
        _upload(ctx, folder, result)
        if ctx.config.post_analytics_processor_script:
            _post_process(ctx, folder)
            _upload(ctx, folder, result)
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _upload(ctx: Context, folder: Path, result: Result) -> None:
    for path in sorted(folder.iterdir()):
        if path.is_file():
            uri = f"{ctx.output_uri.rstrip('/')}/{path.name}"
            ctx.upload(uri, path)
            result.files[path.name] = uri


# --- data quality -------------------------------------------------------------------------


def _data_quality(ctx: Context, folder: Path) -> Result:
    cfg = ctx.config
    constraints = load(f.Constraints, cfg.constraints_uri, "constraints")
    baseline = load(f.Statistics, cfg.statistics_uri, "statistics")
    names = (
        [c.name for c in constraints.features]
        if constraints
        else ([s.name for s in baseline.features] if baseline else [])
    )
    files = capture.capture_files(ctx.capture_uri, cfg.endpoint_name, ctx.start, ctx.end)
    ctx.log(
        f"reading {len(files)} capture files of {cfg.endpoint_name} "
        f"from {ctx.start.isoformat()} to {ctx.end.isoformat()}"
    )
    read = capture.ReadReport()
    profile = DatasetProfile()
    decode = (
        capture.preprocessor(cfg.record_preprocessor_script)
        if cfg.record_preprocessor_script
        else None
    )
    for batch in capture.batches(_rows(ctx, files, read, decode), names):
        if ctx.should_stop():
            raise Stopped
        profile.update(batch)
    result = Result(record_count=read.records, unparseable=read.unparseable)
    for example in read.examples:
        ctx.log(f"unreadable record: {example}")
    if read.records and profile.item_count == 0 and read.unparseable:
        raise SlipwayError(
            f"none of the {read.records} captured records in the window could be read; "
            f"first problems: {'; '.join(read.examples[:3])}"
        )
    statistics = statistics_of(profile)
    (folder / "statistics.json").write_bytes(f.dump(statistics))
    # An empty window has nothing to check: every column would look missing.
    outcome = (
        checks.check(constraints, baseline, profile) if constraints and profile.item_count else None
    )
    if constraints and outcome is None:
        (folder / "constraint_violations.json").write_bytes(f.dump(f.Violations()))
    if outcome is not None:
        result.violations, result.metrics = outcome.violations, outcome.metrics
        (folder / "constraint_violations.json").write_bytes(
            f.dump(f.Violations(violations=outcome.violations))
        )
    result.exit_message = _exit_message(ctx, read, profile, result)
    (folder / "report.html").write_text(
        report.render(
            ctx.name,
            cfg,
            ctx.start,
            ctx.end,
            baseline,
            statistics,
            result.violations,
            outcome.drift if outcome else {},
            result.exit_message,
        )
    )
    return result


def _rows(
    ctx: Context,
    files: list[str],
    read: capture.ReadReport,
    decode: Callable[[capture.CapturedRecord], list[capture.Row]] | None,
) -> Iterator[capture.Row]:
    for record in capture.read_records(files, ctx.start, ctx.end, read):
        if decode is not None:
            rows = decode(record)  # ScriptFailed ends the execution
            if not rows:
                read.dropped += 1
            yield from rows
            continue
        try:
            yield from capture.decode(record.endpoint_input)
        except capture.Unparseable as error:
            read.bad(record.source, str(error))


def _exit_message(
    ctx: Context, read: capture.ReadReport, profile: DatasetProfile, result: Result
) -> str:
    if read.records == 0:
        return (
            f"No captured data for endpoint {ctx.config.endpoint_name} between "
            f"{ctx.start.isoformat()} and {ctx.end.isoformat()}: nothing to analyse "
            f"({read.files} capture files found)."
        )
    parts = [f"Analysed {profile.item_count} rows from {read.records} captured records"]
    if read.dropped:
        parts.append(f"{read.dropped} records dropped by the preprocessor")
    if read.unparseable:
        parts.append(f"{read.unparseable} records could not be read")
    message = "; ".join(parts) + "."
    if result.violations:
        message = f"CompletedWithViolations: {len(result.violations)} violations. {message}"
    return message


# --- model quality ------------------------------------------------------------------------


def _model_quality(ctx: Context, folder: Path) -> Result:
    cfg = ctx.config
    constraints = load(f.QualityConstraints, cfg.constraints_uri, "constraints")
    files = capture.capture_files(ctx.capture_uri, cfg.endpoint_name, ctx.start, ctx.end)
    read = capture.ReadReport()
    records = list(capture.read_records(files, ctx.start, ctx.end, read))
    labels = quality.read_ground_truth(cfg.ground_truth_uri or "", ctx.start, read)
    joined = quality.join(records, labels, cfg.model_quality, read)
    result = Result(record_count=read.records, unparseable=read.unparseable)
    for example in read.examples:
        ctx.log(f"unreadable record: {example}")
    if not joined.truth:
        statistics: dict[str, Any] = quality.empty_statistics(cfg.model_quality.problem_type)
        result.exit_message = (
            f"No captured predictions with ground truth for endpoint {cfg.endpoint_name} "
            f"between {ctx.start.isoformat()} and {ctx.end.isoformat()}: nothing to analyse "
            f"({read.records} records, {len(labels)} labels)."
        )
    else:
        statistics = quality.statistics(joined, cfg.model_quality)
        result.exit_message = (
            f"Analysed {len(joined.truth)} predictions joined with ground truth "
            f"({read.records} records, {len(labels)} labels)."
        )
    (folder / "statistics.json").write_text(quality.dump(statistics))
    if constraints is not None:
        result.violations = quality.check(constraints, statistics)
        (folder / "constraint_violations.json").write_bytes(
            f.dump(f.Violations(violations=result.violations))
        )
        if result.violations:
            result.exit_message = (
                f"CompletedWithViolations: {len(result.violations)} violations. "
                + result.exit_message
            )
    (folder / "report.html").write_text(
        report.render_quality(
            ctx.name, cfg, ctx.start, ctx.end, statistics, result.violations, result.exit_message
        )
    )
    return result


# --- helpers ------------------------------------------------------------------------------


def load(model: type[f.M], uri: str | None, what: str) -> f.M | None:
    if not uri:
        return None
    try:
        with fsspec.open(uri, "rb") as stream:
            raw = stream.read()
    except FileNotFoundError:
        raise SlipwayError(f"the baseline {what} file {uri} does not exist") from None
    except OSError as error:  # a folder, a name too long, no permission...
        raise SlipwayError(
            f"cannot read the baseline {what} file {uri}: {error.strerror or error}"
        ) from None
    return f.parse(model, raw, f"the baseline {what} file {uri}")


def _post_process(ctx: Context, folder: Path) -> None:
    handler = capture.load_script(ctx.config.post_analytics_processor_script, "postprocess_handler")
    cfg = ctx.config
    contract = {
        "output_path": str(folder),
        "dataset_source": f"{ctx.capture_uri.rstrip('/')}/{cfg.endpoint_name}",
        "start_time": ctx.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_time": ctx.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sagemaker_endpoint_name": cfg.endpoint_name,
        "sagemaker_monitoring_schedule_name": cfg.monitoring_schedule_name,
        "baseline_constraints": cfg.constraints_uri or "",
        "baseline_statistics": cfg.statistics_uri or "",
        "publish_cloudwatch_metrics": "Enabled" if cfg.enable_cloudwatch_metrics else "Disabled",
    }
    with _ENV_LOCK, _environment(contract):
        try:
            handler()
        except Exception as error:
            raise capture.ScriptFailed(
                f"the post-analytics processor raised {error!r}; the analysis results were "
                f"written to {ctx.output_uri}"
            ) from None


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
