"""Candidate recipes: a column plan and hyperparameters become a scikit-learn pipeline.

This module is deliberately self-contained (pandas, NumPy, scikit-learn, LightGBM and
XGBoost only): the candidate definition notebook copies its source verbatim, so running
that notebook rebuilds and rescores every candidate without slipway.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler, TargetEncoder

# In the order their default candidates train (the MLP, often the slowest, last).
ALGORITHMS = ("lightgbm", "xgboost", "linear", "extra_trees", "mlp")
SEED = 0
# Objective metrics: name -> True when larger is better.
MAXIMIZE = {
    "Accuracy": True, "BalancedAccuracy": True, "F1": True, "F1macro": True, "AUC": True,
    "R2": True, "MSE": False, "RMSE": False, "MAE": False,
}  # fmt: skip

# The hyperparameter ranges searched per algorithm: name -> (kind, low, high, log).
RANGES: dict[str, dict[str, tuple[str, float, float, bool]]] = {
    "lightgbm": {
        "lgbm_n_estimators": ("int", 50, 800, True),
        "lgbm_learning_rate": ("float", 0.02, 0.3, True),
        "lgbm_num_leaves": ("int", 4, 64, True),
        "lgbm_min_child_samples": ("int", 2, 40, True),
        "lgbm_subsample": ("float", 0.6, 1.0, False),
        "lgbm_colsample": ("float", 0.4, 1.0, False),
        "lgbm_reg_lambda": ("float", 0.001, 10.0, True),
    },
    "xgboost": {
        "xgb_n_estimators": ("int", 50, 800, True),
        "xgb_learning_rate": ("float", 0.02, 0.3, True),
        "xgb_max_depth": ("int", 2, 10, False),
        "xgb_min_child_weight": ("float", 0.5, 10.0, True),
        "xgb_subsample": ("float", 0.6, 1.0, False),
        "xgb_colsample": ("float", 0.4, 1.0, False),
        "xgb_reg_lambda": ("float", 0.001, 10.0, True),
    },
    "linear": {"linear_c": ("float", 0.001, 100.0, True)},
    "extra_trees": {
        # Fully grown trees: more of them cost memory and packing time more than accuracy.
        "et_n_estimators": ("int", 30, 250, True),
        "et_max_features": ("float", 0.1, 1.0, False),
        "et_min_samples_leaf": ("int", 1, 16, True),
    },
    "mlp": {
        "mlp_units": ("int", 32, 256, True),
        "mlp_layers": ("int", 1, 2, False),
        "mlp_alpha": ("float", 1e-6, 0.1, True),
        "mlp_learning_rate": ("float", 0.0005, 0.01, True),
    },
}

# Sensible first guesses, so that each algorithm starts from a configuration that works.
DEFAULTS: dict[str, dict[str, float]] = {
    "lightgbm": {
        "lgbm_n_estimators": 300, "lgbm_learning_rate": 0.05, "lgbm_num_leaves": 15,
        "lgbm_min_child_samples": 10, "lgbm_subsample": 0.9, "lgbm_colsample": 0.8,
        "lgbm_reg_lambda": 1.0,
    },
    "xgboost": {
        "xgb_n_estimators": 300, "xgb_learning_rate": 0.05, "xgb_max_depth": 5,
        "xgb_min_child_weight": 1.0, "xgb_subsample": 0.9, "xgb_colsample": 0.8,
        "xgb_reg_lambda": 1.0,
    },
    "linear": {"linear_c": 1.0},
    "extra_trees": {"et_n_estimators": 100, "et_max_features": 0.5, "et_min_samples_leaf": 1},
    "mlp": {"mlp_units": 128, "mlp_layers": 1, "mlp_alpha": 0.0001, "mlp_learning_rate": 0.001},
}  # fmt: skip


# --- preprocessing ----------------------------------------------------------------------


def as_strings(frame: Any) -> Any:
    """Categories as strings; a missing value becomes the category 'nan'."""
    return pd.DataFrame(frame).astype(str).to_numpy()


def as_text(column: Any) -> Any:
    """One text column as a flat sequence of strings; missing text is empty."""
    return pd.Series(np.asarray(column).ravel()).fillna("").astype(str).to_numpy()


class DateParts(TransformerMixin, BaseEstimator):
    """Year, month, day, day of week and hour of each date column, as numbers."""

    PARTS = ("year", "month", "day", "dayofweek", "hour")

    def fit(self, X: Any, y: Any = None) -> DateParts:
        self.n_columns_ = pd.DataFrame(X).shape[1]
        return self

    def transform(self, X: Any) -> Any:
        frame = pd.DataFrame(X)
        parts = []
        for column in frame.columns:
            dates = pd.to_datetime(frame[column], errors="coerce", format="mixed", utc=True)
            parts += [getattr(dates.dt, part).astype(float) for part in self.PARTS]
        return np.column_stack(parts) if parts else np.empty((len(frame), 0))


def preprocessor(plan: dict[str, list[str]], algorithm: str) -> ColumnTransformer:
    """Per column kind: impute, encode (one-hot or target encoding by cardinality),
    scale (for the linear model and the MLP), TF-IDF for text, date parts for dates."""
    scale = algorithm in ("linear", "mlp")

    def scaled(*steps: Any) -> Pipeline:
        return make_pipeline(*steps, StandardScaler()) if scale else make_pipeline(*steps)

    parts: list[tuple[str, Any, Any]] = []
    if plan.get("numeric"):
        imputer = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
        parts.append(("numeric", scaled(imputer), plan["numeric"]))
    if plan.get("categorical_low"):
        onehot = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=3)
        parts.append(
            (
                "onehot",
                make_pipeline(FunctionTransformer(as_strings), onehot),
                plan["categorical_low"],
            )
        )
    if plan.get("categorical_high"):
        target = TargetEncoder(random_state=SEED)
        encoder = scaled(FunctionTransformer(as_strings), target)
        parts.append(("target_encoded", encoder, plan["categorical_high"]))
    for column in plan.get("text", []):
        tfidf = TfidfVectorizer(max_features=2000, ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        parts.append(
            (f"text_{column}", make_pipeline(FunctionTransformer(as_text), tfidf), [column])
        )
    if plan.get("date"):
        dates = scaled(DateParts(), SimpleImputer(strategy="median", keep_empty_features=True))
        parts.append(("date", dates, plan["date"]))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.3)


# --- algorithms -------------------------------------------------------------------------


def estimator(algorithm: str, classification: bool, hp: dict[str, Any], n_rows: int) -> Any:
    """The algorithm with its hyperparameters (fixed seeds, one thread: reproducible)."""
    if algorithm == "lightgbm":
        import lightgbm as lgb

        cls = lgb.LGBMClassifier if classification else lgb.LGBMRegressor
        return cls(
            n_estimators=int(hp["lgbm_n_estimators"]),
            learning_rate=float(hp["lgbm_learning_rate"]),
            num_leaves=int(hp["lgbm_num_leaves"]),
            min_child_samples=int(hp["lgbm_min_child_samples"]),
            subsample=float(hp["lgbm_subsample"]),
            subsample_freq=1,
            colsample_bytree=float(hp["lgbm_colsample"]),
            reg_lambda=float(hp["lgbm_reg_lambda"]),
            random_state=SEED, n_jobs=1, verbose=-1,
        )  # fmt: skip
    if algorithm == "xgboost":
        import xgboost as xgb

        cls = xgb.XGBClassifier if classification else xgb.XGBRegressor
        return cls(
            n_estimators=int(hp["xgb_n_estimators"]),
            learning_rate=float(hp["xgb_learning_rate"]),
            max_depth=int(hp["xgb_max_depth"]),
            min_child_weight=float(hp["xgb_min_child_weight"]),
            subsample=float(hp["xgb_subsample"]),
            colsample_bytree=float(hp["xgb_colsample"]),
            reg_lambda=float(hp["xgb_reg_lambda"]),
            tree_method="hist", random_state=SEED, n_jobs=1,
        )  # fmt: skip
    if algorithm == "linear":
        c = float(hp["linear_c"])
        if classification:
            return LogisticRegression(C=c, max_iter=2000)
        return TransformedTargetRegressor(Ridge(alpha=1.0 / c), transformer=StandardScaler())
    if algorithm == "extra_trees":
        cls = ExtraTreesClassifier if classification else ExtraTreesRegressor
        return cls(
            n_estimators=int(hp["et_n_estimators"]),
            max_features=float(hp["et_max_features"]),
            min_samples_leaf=int(hp["et_min_samples_leaf"]),
            random_state=SEED, n_jobs=1,
        )  # fmt: skip
    if algorithm == "mlp":
        layers = (int(hp["mlp_units"]),) * int(hp["mlp_layers"])
        options = dict(
            hidden_layer_sizes=layers, alpha=float(hp["mlp_alpha"]),
            learning_rate_init=float(hp["mlp_learning_rate"]), max_iter=300,
            early_stopping=n_rows >= 1000, n_iter_no_change=10, random_state=SEED,
        )  # fmt: skip
        if classification:
            return MLPClassifier(**options)
        return TransformedTargetRegressor(MLPRegressor(**options), transformer=StandardScaler())
    raise ValueError(f"unknown algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")


def pipeline(plan: dict[str, list[str]], algorithm: str, classification: bool,
             hp: dict[str, Any], n_rows: int) -> Pipeline:  # fmt: skip
    """The whole candidate: preprocessing in front of the algorithm."""
    return Pipeline(
        [
            ("preprocess", preprocessor(plan, algorithm)),
            ("model", estimator(algorithm, classification, hp, n_rows)),
        ]
    )


class AutoMLModel(BaseEstimator):
    """A fitted candidate (or a weighted ensemble of them) that takes raw rows and
    answers in the original labels."""

    def __init__(self, members: list[Any], weights: list[float], classes: Any,
                 columns: list[str], numeric_columns: list[str]):  # fmt: skip
        self.members = members
        self.weights = weights
        self.classes = classes
        self.columns = columns
        self.numeric_columns = numeric_columns

    def _frame(self, X: Any) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            frame = X.reindex(columns=self.columns)
        else:
            frame = pd.DataFrame(np.asarray(X, dtype=object), columns=self.columns)
        for column in self.numeric_columns:  # raw rows may bring numbers as text
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
        return frame

    def _average(self, X: Any) -> Any:
        frame = self._frame(X)
        method = "predict_proba" if self.classes is not None else "predict"
        total = sum(
            w * getattr(m, method)(frame) for m, w in zip(self.members, self.weights, strict=True)
        )
        return total / sum(self.weights)

    def predict_proba(self, X: Any) -> Any:
        return self._average(X)

    def predict(self, X: Any) -> Any:
        scores = self._average(X)
        if self.classes is None:
            return scores
        return np.asarray(self.classes)[np.argmax(scores, axis=1)]


# --- scoring ----------------------------------------------------------------------------


def score(metric: str, y_true: Any, scores: Any, classification: bool) -> float:
    """The objective metric of predictions (class probabilities for classification)."""
    if not classification:
        if metric == "R2":
            return float(r2_score(y_true, scores))
        if metric == "MAE":
            return float(mean_absolute_error(y_true, scores))
        mse = float(mean_squared_error(y_true, scores))
        return float(np.sqrt(mse)) if metric == "RMSE" else mse
    labels = np.argmax(scores, axis=1)
    if metric == "AUC":
        if scores.shape[1] == 2:
            return float(roc_auc_score(y_true, scores[:, 1]))
        return float(
            roc_auc_score(y_true, scores, multi_class="ovr", labels=range(scores.shape[1]))
        )
    if metric == "F1":
        return float(
            f1_score(y_true, labels, average="binary" if scores.shape[1] == 2 else "macro")
        )
    if metric == "F1macro":
        return float(f1_score(y_true, labels, average="macro"))
    if metric == "BalancedAccuracy":
        return float(balanced_accuracy_score(y_true, labels))
    return float(accuracy_score(y_true, labels))


def splits(n_rows: int, y: Any, classification: bool) -> list[tuple[Any, Any]]:
    """Validation folds: 5-fold CV up to 2000 rows, 3-fold up to 8000, else one 20% holdout.

    Every candidate of a job gets the same folds, so their out-of-fold predictions line up
    and can be ensembled.
    """
    index = np.arange(n_rows)
    stratify = y if classification else None
    if n_rows > 8000:
        train, valid = train_test_split(index, test_size=0.2, random_state=SEED, stratify=stratify)
        return [(train, valid)]
    folds = 5 if n_rows <= 2000 else 3
    if classification:
        smallest = int(np.bincount(y).min())
        splitter: Any = StratifiedKFold(
            min(folds, max(smallest, 2)), shuffle=True, random_state=SEED
        )
        return list(splitter.split(index, y))
    return list(KFold(folds, shuffle=True, random_state=SEED).split(index))


def predict_scores(model: Any, X: Any, classification: bool, n_classes: int) -> Any:
    if not classification:
        return np.asarray(model.predict(X), dtype=float)
    proba = model.predict_proba(X)
    full = np.zeros((len(proba), n_classes))
    full[:, np.asarray(model.classes_, dtype=int)] = proba  # a fold may miss a class
    return full


def out_of_fold(frame: pd.DataFrame, y: Any, plan: dict[str, list[str]], algorithm: str,
                classification: bool, hp: dict[str, Any]) -> Any:  # fmt: skip
    """Out-of-fold predictions of one candidate (NaN where a row was never validated)."""
    n_classes = int(y.max()) + 1 if classification else 0
    shape = (len(frame), n_classes) if classification else (len(frame),)
    oof = np.full(shape, np.nan)
    for train, valid in splits(len(frame), y, classification):
        model = pipeline(plan, algorithm, classification, hp, len(train))
        model.fit(frame.iloc[train], y[train])
        oof[valid] = predict_scores(model, frame.iloc[valid], classification, n_classes)
    return oof


def oof_score(metric: str, y: Any, oof: Any, classification: bool) -> float:
    rows = ~np.isnan(oof if oof.ndim == 1 else oof[:, 0])
    return score(metric, y[rows], oof[rows], classification)


def greedy_ensemble(oofs: list[Any], y: Any, metric: str, classification: bool,
                    rounds: int = 25) -> Any:  # fmt: skip
    """Caruana's ensemble selection with replacement: how often each member is picked."""
    sign = 1 if MAXIMIZE[metric] else -1
    counts = np.zeros(len(oofs))
    total = np.zeros_like(oofs[0])
    for _ in range(rounds):
        gains = [sign * oof_score(metric, y, (total + o) / (counts.sum() + 1), classification)
                 for o in oofs]  # fmt: skip
        best = int(np.argmax(gains))
        counts[best] += 1
        total = total + oofs[best]
    return counts
