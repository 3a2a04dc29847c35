"""Studio's pages of AutoML jobs, their stages, candidates and notebooks.

A notebook is rendered to HTML with nbconvert's lab template less every script it would
fetch from a CDN (require.js, MathJax, widgets, mermaid): see
``templates/automl_notebook.html.j2``. The rendered page is served with a Content
Security Policy that allows nothing from elsewhere and shown in a sandboxed frame, so a
notebook's outputs can neither load nor run anything in Studio.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import PurePosixPath

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from slipway.automl.models import AutoMLCandidate, AutoMLJob
from slipway.errors import NotFound, SlipwayError
from slipway.jobs.models import JobKind, JobStatus, StatusTransition
from slipway.server.headers import NOTEBOOK_POLICY
from slipway.studio.common import HERE, PAGE_SIZE, error_page, render, services

NOTEBOOK_TEMPLATE = "automl_notebook.html.j2"
# The most candidates the service lists at once (it has no pages): the best ones.
LEADERBOARD_SIZE = 100

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Notebook:
    """One of the two notebooks an AutoML job writes."""

    kind: str
    title: str
    attribute: str
    written: str  # when the job writes it

    def location(self, job: AutoMLJob) -> str | None:
        artifacts = job.auto_ml_job_artifacts
        return getattr(artifacts, self.attribute) if artifacts else None


NOTEBOOKS = {
    n.kind: n
    for n in (
        Notebook(
            "exploration",
            "Data exploration",
            "data_exploration_notebook_location",
            "while it analyses the data",
        ),
        Notebook(
            "candidates",
            "Candidate definition",
            "candidate_definition_notebook_location",
            "once its candidates are trained (or defined, with candidate definitions only)",
        ),
    )
}


@router.get("/automl")
def jobs(request: Request, q: str = "", status: str = "", token: str | None = None) -> Response:
    try:
        page = services(request).automl.list_auto_ml_jobs(
            status=status or None,
            name_contains=q.strip() or None,
            max_results=PAGE_SIZE,
            next_token=token,
        )
    except SlipwayError as error:
        return error_page(request, error)
    return render(
        request,
        "automl_jobs.html",
        title="AutoML",
        page=page,
        q=q,
        status=status,
        statuses=list(JobStatus),
    )


@router.get("/automl/{name}")
def job(request: Request, name: str) -> Response:
    svc = services(request).automl
    try:
        found = svc.describe_auto_ml_job(name)
        candidates = svc.list_candidates_for_auto_ml_job(name, max_results=LEADERBOARD_SIZE)
    except SlipwayError as error:
        return error_page(request, error)
    best = found.best_candidate.candidate_name if found.best_candidate else None
    return render(
        request,
        "automl_job.html",
        title=name,
        job=found,
        stages=[StatusTransition.model_validate(t) for t in found.secondary_status_transitions],
        leaderboard=_ranked(candidates),
        leaderboard_size=LEADERBOARD_SIZE,
        best=best,
        objective=_objective(found, candidates),
        notebooks=[(n, n.location(found)) for n in NOTEBOOKS.values()],
        job_kind=JobKind.AUTOML.value,
    )


def _ranked(candidates: list[AutoMLCandidate]) -> list[tuple[int | None, AutoMLCandidate]]:
    """Candidates best first (the service's order) with a rank for those with a score."""
    ranked: list[tuple[int | None, AutoMLCandidate]] = []
    rank = 0
    for c in candidates:
        if c.final_auto_ml_job_objective_metric is None:
            ranked.append((None, c))
        else:
            rank += 1
            ranked.append((rank, c))
    return ranked


@dataclass(frozen=True)
class Objective:
    name: str | None
    direction: str | None  # Maximize or Minimize, once a candidate has a score


def _objective(job: AutoMLJob, candidates: list[AutoMLCandidate]) -> Objective:
    """The objective's name and direction, as resolved (or asked for)."""
    resolved = job.resolved_attributes
    chosen = resolved.auto_ml_job_objective if resolved else job.auto_ml_job_objective
    scores = [c.final_auto_ml_job_objective_metric for c in candidates]
    scored = next((s for s in scores if s is not None), None)
    return Objective(chosen.metric_name if chosen else None, scored.type if scored else None)


@router.get("/automl/{name}/notebooks/{kind}")
def notebook_page(request: Request, name: str, kind: str) -> Response:
    try:
        notebook, found, _ = _located(request, name, kind)
    except SlipwayError as error:
        return error_page(request, error)
    return render(
        request,
        "automl_notebook_page.html",
        title=f"{notebook.title} notebook of {name}",
        job=found,
        notebook=notebook,
    )


@router.get("/automl/{name}/notebooks/{kind}/html")
def notebook_html(request: Request, name: str, kind: str) -> Response:
    try:
        _, _, uri = _located(request, name, kind)
        html = _render_notebook(_read(request, uri), kind)
    except SlipwayError as error:
        return error_page(request, error)
    return HTMLResponse(html, headers={"Content-Security-Policy": NOTEBOOK_POLICY})


@router.get("/automl/{name}/notebooks/{kind}/ipynb")
def notebook_download(request: Request, name: str, kind: str) -> Response:
    try:
        _, _, uri = _located(request, name, kind)
        content = _read(request, uri)
    except SlipwayError as error:
        return error_page(request, error)
    return Response(
        content,
        media_type="application/x-ipynb+json",
        headers={"Content-Disposition": f'attachment; filename="{PurePosixPath(uri).name}"'},
    )


def _located(request: Request, name: str, kind: str) -> tuple[Notebook, AutoMLJob, str]:
    """The notebook of that kind and where it is, or NotFound saying what is missing."""
    notebook = NOTEBOOKS.get(kind)
    if notebook is None:
        raise NotFound(f"AutoML jobs have no notebook {kind!r}; use one of {', '.join(NOTEBOOKS)}")
    found = services(request).automl.describe_auto_ml_job(name)
    uri = notebook.location(found)
    if uri is None:
        raise NotFound(
            f"AutoML job {name!r} ({found.auto_ml_job_secondary_status.value}) has no "
            f"{notebook.title.lower()} notebook yet; the job writes it {notebook.written}"
        )
    return notebook, found, uri


def _read(request: Request, uri: str) -> bytes:
    return b"".join(services(request).artifacts.open(uri))


# Highlighting the code of a big notebook takes nbconvert seconds; a job's notebooks
# do not change once written, so the last few renderings are kept, keyed by content.
@functools.lru_cache(maxsize=8)
def _render_notebook(content: bytes, kind: str) -> str:
    # nbconvert is imported here: it costs a noticeable time at server start otherwise.
    import nbformat
    from nbconvert import HTMLExporter

    try:
        book = nbformat.reads(content.decode("utf-8"), as_version=4)
    except (UnicodeDecodeError, ValueError) as error:
        raise SlipwayError(f"the {kind} notebook is not a readable .ipynb file: {error}") from None
    exporter = HTMLExporter(
        template_name="lab",
        template_file=NOTEBOOK_TEMPLATE,
        extra_template_paths=[str(HERE / "templates")],
    )
    html, _ = exporter.from_notebook_node(book)
    return html
