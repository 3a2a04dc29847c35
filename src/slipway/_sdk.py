"""Pieces every capability's SDK shares: paging through listings, entity records."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from slipway.experiments.models import Page

PAGE_SIZE = 100


def pages(fetch: Callable[[str | None], Page[Any]], limit: int | None = None) -> Iterator[Any]:
    """Follow NextToken until the listing (or ``limit`` items) is exhausted."""
    token, seen = None, 0
    while True:
        page = fetch(token)
        for item in page.items:
            if limit is not None and seen >= limit:
                return
            seen += 1
            yield item
        token = page.next_token
        if not token:
            return


class Record:
    """Attribute access over a pydantic entity, as the reference SDK's records offer."""

    _entity: Any

    def __init__(self, entity: Any) -> None:
        self._entity = entity

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._entity, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._entity!r})"

    def to_dict(self) -> dict[str, Any]:
        return self._entity.to_wire()
