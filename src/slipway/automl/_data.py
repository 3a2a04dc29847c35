"""Reading the input table, refusing bad input, and deciding what to do with each column.

Every decision carries its reason, so the data exploration notebook can show the user
what was found and what will be done about it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import fsspec
import numpy as np
import pandas as pd

from slipway.errors import ValidationError

# Fewer rows cannot give five validation folds of a useful size; the reference asks for
# 500, which would refuse the small data sets people learn on, so slipway asks for 50 and
# says so.
MIN_ROWS = 50
MIN_ROWS_PER_CLASS = 2
ONE_HOT_MAX_CARDINALITY = 20
CLASSIFICATION_MAX_INTEGER_CLASSES = 20
LEAKAGE_CORRELATION = 0.995


class ProblemType:
    BINARY = "BinaryClassification"
    MULTICLASS = "MulticlassClassification"
    REGRESSION = "Regression"
    ALL = (BINARY, MULTICLASS, REGRESSION)


DEFAULT_OBJECTIVE = {
    ProblemType.BINARY: "F1",
    ProblemType.MULTICLASS: "Accuracy",
    ProblemType.REGRESSION: "MSE",
}
METRICS = {
    ProblemType.BINARY: ("Accuracy", "BalancedAccuracy", "F1", "F1macro", "AUC"),
    ProblemType.MULTICLASS: ("Accuracy", "BalancedAccuracy", "F1macro", "AUC"),
    ProblemType.REGRESSION: ("MSE", "RMSE", "MAE", "R2"),
}


@dataclass
class Decision:
    """What was found about one column and what will be done about it."""

    column: str
    kind: str  # numeric, categorical_low, categorical_high, text, date, dropped
    reason: str
    warning: str | None = None


@dataclass
class Analysis:
    problem_type: str
    problem_reason: str
    objective: str
    objective_reason: str
    classes: list[Any] | None
    decisions: list[Decision] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    n_rows: int = 0

    @property
    def plan(self) -> dict[str, list[str]]:
        plan: dict[str, list[str]] = {}
        for d in self.decisions:
            if d.kind != "dropped":
                plan.setdefault(d.kind, []).append(d.column)
        return plan

    @property
    def features(self) -> list[str]:
        return [d.column for d in self.decisions]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ProblemType": self.problem_type,
            "ProblemTypeReason": self.problem_reason,
            "Objective": self.objective,
            "ObjectiveReason": self.objective_reason,
            "Classes": self.classes,
            "Rows": self.n_rows,
            "Plan": self.plan,
            "Columns": [d.__dict__ for d in self.decisions],
            "Warnings": self.warnings,
        }


def read_table(uri: str) -> pd.DataFrame:
    """A CSV (with a header row) or parquet file, or the first such file under a prefix."""
    fs, path = fsspec.core.url_to_fs(uri)
    if not fs.exists(path):
        raise ValidationError(
            f"input data {uri!r} not found; pass the URI of a CSV or parquet file"
        )
    if fs.isdir(path):
        files = sorted(f for f in fs.find(path) if not f.rsplit("/", 1)[-1].startswith("."))
        if not files:
            raise ValidationError(f"input prefix {uri!r} holds no files")
        path = files[0]
    with fs.open(path, "rb") as stream:
        raw = stream.read()
    if raw[:4] == b"PAR1":
        return pd.read_parquet(io.BytesIO(raw))
    try:
        frame = pd.read_csv(io.BytesIO(raw), compression="infer")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ValidationError(
            f"input data {uri!r} is not a table: {type(error).__name__}: {str(error)[:200]}. "
            "AutoML reads a CSV file with a header row, or a parquet file"
        ) from None
    if frame.shape[1] < 2:
        raise ValidationError(
            f"input data {uri!r} has {frame.shape[1]} column; AutoML needs a CSV with a header "
            "row naming the target column and at least one feature column"
        )
    return frame


def _problem(target: pd.Series, given: str | None) -> tuple[str, str]:
    values = target.dropna()
    unique = values.nunique()
    if given is not None:
        if given not in ProblemType.ALL:
            raise ValidationError(
                f"problem type {given!r} is not valid; use one of {', '.join(ProblemType.ALL)}"
            )
        return given, f"given by the user ({given})"
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    integral = numeric and bool(np.all(np.mod(values.astype(float), 1) == 0))
    if unique == 2:
        return ProblemType.BINARY, f"the target has exactly 2 distinct values ({_few(values)})"
    if not numeric:
        return (
            ProblemType.MULTICLASS,
            f"the target is not numeric and has {unique} distinct values ({_few(values)})",
        )
    if integral and unique <= CLASSIFICATION_MAX_INTEGER_CLASSES:
        return (
            ProblemType.MULTICLASS,
            f"the target holds whole numbers with only {unique} distinct values "
            f"(at most {CLASSIFICATION_MAX_INTEGER_CLASSES} read as classes)",
        )
    return ProblemType.REGRESSION, f"the target is numeric with {unique} distinct values"


def _few(values: pd.Series) -> str:
    shown = [str(v) for v in values.unique()[:5]]
    return ", ".join(shown) + (", ..." if values.nunique() > 5 else "")


def _objective(problem: str, given: str | None) -> tuple[str, str]:
    if given is None:
        chosen = DEFAULT_OBJECTIVE[problem]
        return chosen, f"the default objective for {problem}, as in the reference"
    if given not in METRICS[problem]:
        raise ValidationError(
            f"objective metric {given!r} does not fit {problem}; use one of "
            + ", ".join(METRICS[problem])
        )
    return given, "given by the user"


def _column(frame: pd.DataFrame, name: str, target: pd.Series, classify: bool) -> Decision:
    column = frame[name]
    present = column.dropna()
    n = len(frame)
    if present.empty:
        return Decision(name, "dropped", "every value is missing", "all-missing column")
    unique = present.nunique()
    if unique == 1:
        return Decision(name, "dropped", f"a single value ({present.iloc[0]!r}) carries no signal")
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    if _looks_like_id(name, present, numeric, n):
        return Decision(
            name, "dropped", "every value is distinct, like a row identifier",
            "looks like an ID column",
        )  # fmt: skip
    leak = _leak(present, target.loc[present.index], numeric, classify)
    if leak:
        return Decision(name, "dropped", leak, "possible target leakage")
    missing = 1 - len(present) / n
    note = f"; {missing:.0%} missing, imputed" if missing else ""
    if numeric:
        return Decision(name, "numeric", f"numeric, {unique} distinct values{note}")
    if pd.api.types.is_datetime64_any_dtype(column) or _dates(present):
        return Decision(name, "date", f"dates: year, month, day, weekday and hour{note}")
    text = present.astype(str)
    if unique > ONE_HOT_MAX_CARDINALITY and text.str.split().str.len().mean() >= 3:
        return Decision(name, "text", f"free text (mean {text.str.len().mean():.0f} chars): TF-IDF")
    if unique <= ONE_HOT_MAX_CARDINALITY:
        return Decision(name, "categorical_low", f"{unique} categories: one-hot encoded{note}")
    return Decision(name, "categorical_high", f"{unique} categories: target encoded{note}")


def _looks_like_id(name: str, present: pd.Series, numeric: bool, n: int) -> bool:
    if present.nunique() < 0.99 * n or n < 20:
        return False
    if not numeric:
        return present.astype(str).str.split().str.len().mean() < 2
    ints = bool(np.all(np.mod(present.astype(float), 1) == 0))
    named = name.lower() in ("id", "index") or name.lower().endswith(("_id", "id"))
    return ints and (named or present.is_monotonic_increasing)


def _dates(present: pd.Series) -> bool:
    if not pd.api.types.is_object_dtype(present):
        return False
    sample = present.astype(str).head(200)
    if sample.str.len().mean() < 6 or not sample.str.contains(r"\d").all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return parsed.notna().mean() >= 0.95


def _leak(present: pd.Series, target: pd.Series, numeric: bool, classify: bool) -> str | None:
    if numeric and not classify:
        corr = np.corrcoef(present.astype(float), target.astype(float))[0, 1]
        if np.isfinite(corr) and abs(corr) >= LEAKAGE_CORRELATION:
            return f"correlates with the target at {corr:.3f}: it likely is the target in disguise"
        return None
    if classify and len(present) >= 20:
        groups = pd.DataFrame({"x": present.astype(str), "y": target.astype(str)})
        if groups["x"].nunique() > len(groups) / 5:
            return None  # too many values to judge by pure groups
        purity = groups.groupby("x")["y"].nunique().max()
        if purity == 1 and groups["y"].nunique() > 1:
            return (
                "each of its values goes with a single target class: "
                "it predicts the target perfectly"
            )
    return None


def analyse(frame: pd.DataFrame, target_name: str, problem_type: str | None,
            objective: str | None) -> Analysis:  # fmt: skip
    """Check the table for bad input and decide the problem, the objective and the columns."""
    if target_name not in frame.columns:
        shown = ", ".join(map(str, list(frame.columns)[:20]))
        raise ValidationError(
            f"target column {target_name!r} is not in the data; its columns are: {shown}. "
            "Pass target_attribute_name= one of them (names are case-sensitive)"
        )
    target = frame[target_name]
    labelled = frame[target.notna()]
    if len(labelled) < MIN_ROWS:
        raise ValidationError(
            f"the data has {len(labelled)} rows with a target value; AutoML needs at least "
            f"{MIN_ROWS} to validate candidates. Add rows"
        )
    if target.dropna().nunique() < 2:
        raise ValidationError(
            f"the target column {target_name!r} has a single value "
            f"({target.dropna().iloc[0]!r}); there is nothing to learn. Check the target column"
        )
    problem, problem_reason = _problem(labelled[target_name], problem_type)
    metric, metric_reason = _objective(problem, objective)
    classify = problem != ProblemType.REGRESSION
    warnings = []
    if len(labelled) < len(frame):
        warnings.append(f"{len(frame) - len(labelled)} rows have no target value and are dropped")
    classes = None
    y = labelled[target_name]
    if classify:
        counts = y.astype(str).value_counts()
        rare = counts[counts < MIN_ROWS_PER_CLASS]
        if len(rare):
            raise ValidationError(
                f"target classes {list(rare.index)[:10]} have fewer than "
                f"{MIN_ROWS_PER_CLASS} rows; "
                "each class needs at least 2 to be validated. Remove or merge those classes"
            )
        if counts.iloc[-1] / counts.iloc[0] < 0.1:
            warnings.append(
                f"class imbalance: class {counts.index[-1]!r} has {counts.iloc[-1]} rows against "
                f"{counts.iloc[0]} of {counts.index[0]!r}; consider the F1, F1macro or "
                "BalancedAccuracy objective"
            )
        classes = sorted(y.unique().tolist(), key=str)
    else:
        y = pd.to_numeric(y, errors="coerce")
        if y.isna().any():
            raise ValidationError(f"the regression target {target_name!r} has non-numeric values")
    decisions = [
        _column(labelled, name, y, classify) for name in frame.columns if name != target_name
    ]
    if all(d.kind == "dropped" for d in decisions):
        raise ValidationError(
            "no usable feature column is left: every column is missing, constant, an ID or a "
            "leak of the target (see the reasons: "
            + "; ".join(f"{d.column}: {d.reason}" for d in decisions[:10])
            + ")"
        )
    warnings += [f"{d.column}: {d.warning} ({d.reason}); dropped" for d in decisions if d.warning]
    return Analysis(
        problem, problem_reason, metric, metric_reason, classes, decisions, warnings, len(labelled)
    )
