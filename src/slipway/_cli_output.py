"""How every command prints: Rich tables for people, the entities' wire shapes as JSON
for programs, and listings collected page by page."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console, RenderableType

from slipway.errors import ValidationError
from slipway.experiments.models import Page, WireModel

PAGE = 100
# Piped output feeds grep and scripts, so tables there never fold a name to fit 80 columns.
_PIPE_WIDTH = 10_000


def collect(fetch: Callable[[int, str | None], Page[Any]], limit: int | None = None) -> list[Any]:
    """Follow NextToken until the listing ends or ``limit`` items are in hand."""
    if limit is not None and limit < 1:
        raise ValidationError(f"--max {limit} is out of range; use 1 or more")
    size = min(limit or PAGE, PAGE)
    items: list[Any] = []
    token = None
    while limit is None or len(items) < limit:
        page = fetch(size, token)
        items += page.items
        token = page.next_token
        if not token:
            break
    return items[:limit]


def _wire(value: Any) -> Any:
    if isinstance(value, WireModel):
        return value.to_wire()
    if isinstance(value, dict):
        return {key: _wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_wire(item) for item in value]
    return value


def print_json(value: Any) -> None:
    typer.echo(json.dumps(_wire(value), indent=2))


def show(*renderables: RenderableType) -> None:
    # User data is printed as is: no markup, emoji codes or number colouring in names.
    options = {"markup": False, "emoji": False, "highlight": False}
    console = Console(**options)
    if not console.is_terminal:
        console = Console(width=_PIPE_WIDTH, **options)
    for renderable in renderables:
        console.print(renderable)


def time_text(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value is not None else ""


def number_text(value: float | None) -> str:
    return f"{value:.6g}" if value is not None else ""
