"""The two notebooks of an AutoML job, built with nbformat and executed with nbclient.

The data exploration notebook shows what was found in the data and what will be done
about it; the candidate definition notebook holds the preprocessing code, the algorithms,
their hyperparameter ranges and every candidate, and rebuilds and rescores them when run
from top to bottom.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from slipway.automl import _recipes

if TYPE_CHECKING:
    from slipway.automl.models import AutoMLCandidate

EXPLORATION = "SageMakerAutopilotDataExplorationNotebook.ipynb"
CANDIDATES = "SageMakerAutopilotCandidateDefinitionNotebook.ipynb"


def _md(text: str) -> Any:
    return new_markdown_cell(text)


def _code(text: str) -> Any:
    return new_code_cell(text)


def exploration(job_name: str, data_uri: str, target: str, analysis: dict[str, Any]) -> Any:
    """The data exploration notebook: tables and plots of the data, and the decisions."""
    warnings = "\n".join(f"- {w}" for w in analysis["Warnings"]) or "- none"
    cells = [
        _md(
            f"# Data exploration: AutoML job `{job_name}`\n\n"
            f"Target column: **`{target}`**.\n\n"
            f"**Problem type: {analysis['ProblemType']}**, "
            f"because {analysis['ProblemTypeReason']}.\n\n"
            f"**Objective: {analysis['Objective']}**, {analysis['ObjectiveReason']}.\n\n"
            f"## Warnings and what is done about them\n{warnings}"
        ),
        _code(
            "%matplotlib inline\nimport json\n\n"
            "import matplotlib.pyplot as plt\nimport pandas as pd\n"
            "from IPython.display import display\n"
            "from slipway.automl._data import read_table\n\n"
            f"DATA = {data_uri!r}\nTARGET = {target!r}\n"
            f"ANALYSIS = json.loads({json.dumps(json.dumps(analysis))})\n"
            "df = read_table(DATA)\n"
            "print(f'{len(df)} rows, {df.shape[1]} columns, '\n"
            "      f'{df.duplicated().sum()} duplicate rows')"
        ),
        _md("## Columns: type, missing values, cardinality, and the decision for each"),
        _code(
            "decisions = {c['column']: c for c in ANALYSIS['Columns']}\n"
            "summary = pd.DataFrame({\n"
            "    'dtype': df.dtypes.astype(str),\n"
            "    'missing %': (df.isna().mean() * 100).round(1),\n"
            "    'distinct': df.nunique(),\n"
            "    'treated as': [decisions.get(c, {}).get('kind', 'target') for c in df.columns],\n"
            "    'why': [decisions.get(c, {}).get('reason', '') for c in df.columns],\n"
            "})\ndisplay(summary)"
        ),
        _md("## Target distribution"),
        _code(
            "fig, ax = plt.subplots(figsize=(6, 3))\n"
            "if ANALYSIS['Classes'] is not None:\n"
            "    counts = df[TARGET].value_counts()\n"
            "    counts.plot.bar(ax=ax)\n"
            "    print('class shares:', (counts / counts.sum()).round(3).to_dict())\n"
            "    ratio = round(counts.min() / counts.max(), 3)\n"
            "    print('imbalance (smallest/largest class):', ratio)\n"
            "else:\n"
            "    df[TARGET].plot.hist(ax=ax, bins=30)\n"
            "    display(df[TARGET].describe())\n"
            "ax.set_title(TARGET)\nplt.show()"
        ),
        _md("## Numeric columns: statistics and outliers"),
        _code(
            "numeric = df.select_dtypes('number')\n"
            "stats = numeric.describe().T\n"
            "q1, q3 = numeric.quantile(0.25), numeric.quantile(0.75)\n"
            "stats['outliers (1.5 IQR)'] = ((numeric < q1 - 1.5 * (q3 - q1)) | "
            "(numeric > q3 + 1.5 * (q3 - q1))).sum()\n"
            "display(stats)"
        ),
        _md("## Correlations with the target (numeric columns)"),
        _code(
            "target = df[TARGET]\n"
            "if ANALYSIS['Classes'] is not None:\n"
            "    target = target.astype(str).astype('category').cat.codes\n"
            "others = numeric.drop(columns=[TARGET], errors='ignore')\n"
            "corr = others.corrwith(target).dropna().sort_values(key=abs, ascending=False)\n"
            "display(corr.head(20).to_frame('correlation'))\n"
            "if len(corr):\n"
            "    fig, ax = plt.subplots(figsize=(6, max(2, 0.25 * min(len(corr), 20))))\n"
            "    corr.head(20)[::-1].plot.barh(ax=ax)\n"
            "    ax.set_title('correlation with the target')\n    plt.show()"
        ),
        _md(
            "## Leakage and ID columns\n"
            "A column that predicts the target almost perfectly is most likely the target in "
            "disguise (known only after the fact); a column whose every value is distinct is "
            "a row identifier. Both are dropped before training:"
        ),
        _code(
            "flagged = [c for c in ANALYSIS['Columns'] if c.get('warning')]\n"
            "display(pd.DataFrame(flagged) if flagged else 'no column flagged')"
        ),
    ]
    return new_notebook(cells=cells, metadata={"kernelspec": _KERNEL})


_KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def candidate_entries(
    found: list[AutoMLCandidate], members: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """The candidates the notebook rebuilds: the scored ones, oldest first (an ensemble with
    its members); with none (definitions only), one per algorithm with its defaults."""
    if not found:
        return [
            {"name": f"dpp0-{a}", "hyperparameters": {"algorithm": a, **_recipes.DEFAULTS[a]},
             "score": None}
            for a in _recipes.ALGORITHMS
        ]  # fmt: skip
    listed = []
    for c in sorted(found, key=lambda c: c.creation_time):
        metric = c.final_auto_ml_job_objective_metric
        if metric is None:
            continue
        entry = {
            "name": c.candidate_name,
            "hyperparameters": c.candidate_properties["HyperParameters"],
            "score": metric.value,
        }
        if entry["hyperparameters"].get("algorithm") == "ensemble":
            entry["members"] = members.get(c.candidate_name, [])
        listed.append(entry)
    return listed


def candidates(job_name: str, data_uri: str, settings: dict[str, Any],
               found: list[dict[str, Any]], tuning: dict[str, Any]) -> Any:  # fmt: skip
    """The candidate definition notebook; ``found`` are the candidates with their scores."""
    source = inspect.getsource(_recipes)
    metric = settings["Objective"]
    cells = [
        _md(
            f"# Candidate definitions: AutoML job `{job_name}`\n\n"
            f"Problem type **{settings['ProblemType']}**, objective **{metric}** "
            f"({'maximised' if _recipes.MAXIMIZE[metric] else 'minimised'}).\n\n"
            "Run this notebook from top to bottom: it rebuilds every candidate's pipeline, "
            "validates it on the same folds the job used, and checks that the scores match. "
            "Edit a recipe or a hyperparameter and run again to try your own variant."
        ),
        _md("## The recipes: preprocessing, algorithms, validation (slipway.automl._recipes)"),
        _code(source),
        _md("## The data, the target and the column plan"),
        _code(
            "import io\nimport json\n\nimport fsspec\n\n"
            f"SETTINGS = json.loads({json.dumps(json.dumps(settings))})\n"
            f"DATA = {data_uri!r}\n"
            "with fsspec.open(DATA, 'rb') as f:\n    raw = f.read()\n"
            "frame = pd.read_parquet(io.BytesIO(raw)) if raw[:4] == b'PAR1' else "
            "pd.read_csv(io.BytesIO(raw))\n"
            "frame = frame[frame[SETTINGS['Target']].notna()].reset_index(drop=True)\n"
            "y_raw = frame.pop(SETTINGS['Target'])\n"
            "CLASSIFICATION = SETTINGS['Classes'] is not None\n"
            "if CLASSIFICATION:\n"
            "    index = {str(c): i for i, c in enumerate(SETTINGS['Classes'])}\n"
            "    y = y_raw.astype(str).map(index).to_numpy(dtype=int)\n"
            "else:\n    y = y_raw.to_numpy(dtype=float)\n"
            "PLAN = SETTINGS['Plan']\nprint(json.dumps(PLAN, indent=1))"
        ),
        _md(
            "## The search\n"
            f"Each candidate is a training job of the tuning job `{job_name}` "
            f"(strategy {tuning['Strategy']}, at most {tuning['MaxJobs']} jobs, "
            f"{tuning['Parallel']} at a time). The algorithms and their ranges "
            "(name: kind, low, high, log scale):"
        ),
        _code("for algorithm, ranges in RANGES.items():\n    print(algorithm, ranges)"),
        _code("oofs, reproduced, recorded = {}, {}, {}"),
    ]
    for candidate in found:
        name, hp = candidate["name"], candidate["hyperparameters"]
        if hp.get("algorithm") == "ensemble":
            members = candidate["members"]
            cells += [
                _md(f"### `{name}`: ensemble of {', '.join(members)}"),
                _code(
                    f"members = {members!r}\n"
                    "counts = greedy_ensemble([oofs[m] for m in members], y, "
                    "SETTINGS['Objective'], CLASSIFICATION)\n"
                    "print(dict(zip(members, counts)))\n"
                    "blend = sum(c * oofs[m] for c, m in zip(counts, members)) / counts.sum()\n"
                    f"reproduced[{name!r}] = "
                    "oof_score(SETTINGS['Objective'], y, blend, CLASSIFICATION)\n"
                    f"recorded[{name!r}] = {candidate['score']!r}"
                ),
            ]
            continue
        cells += [
            _md(f"### `{name}`: {hp['algorithm']}"),
            _code(
                f"hp = {hp!r}\n"
                f"print(pipeline(PLAN, hp['algorithm'], CLASSIFICATION, hp, len(frame)))\n"
                "oof = out_of_fold(frame, y, PLAN, hp['algorithm'], CLASSIFICATION, hp)\n"
                f"oofs[{name!r}] = oof\n"
                f"reproduced[{name!r}] = oof_score(SETTINGS['Objective'], y, oof, CLASSIFICATION)\n"
                f"recorded[{name!r}] = {candidate['score']!r}"
            ),
        ]
    cells += [
        _md("## Reproduced against recorded scores"),
        _code(
            "comparison = pd.DataFrame({'recorded': recorded, 'reproduced': reproduced})\n"
            "comparison = comparison.dropna().astype(float)\n"
            "print(comparison.to_string())\n"
            "assert np.allclose(comparison['recorded'], comparison['reproduced'], "
            "rtol=1e-6, atol=1e-6), 'a candidate did not reproduce its score'"
        ),
    ]
    return new_notebook(cells=cells, metadata={"kernelspec": _KERNEL})


def execute(notebook: Any, folder: Path, timeout: int = 600) -> Any:
    """Run a notebook top to bottom in a fresh kernel; its outputs stay in it."""
    from nbclient import NotebookClient

    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute()
    return notebook


def write(notebook: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))
