"""List calls name their filters: a row of positional Nones says nothing and breaks silently
when a parameter is added or moved."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "slipway"
MAX_POSITIONAL_OPTIONS = 2


def _list_methods() -> list[tuple[str, object]]:
    """Every list_* and search method of every service and remote client."""
    found = []
    for path in sorted([*PACKAGE.glob("*/service.py"), *PACKAGE.glob("*/client.py")]):
        module_name = f"slipway.{path.parent.name}.{path.stem}"
        module = importlib.import_module(module_name)
        for class_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module_name:
                continue
            for name, method in inspect.getmembers(cls, inspect.isfunction):
                if name.startswith("list_") or name == "search":
                    found.append((f"{module_name}.{class_name}.{name}", method))
    return found


def test_every_list_method_with_many_options_takes_them_by_keyword() -> None:
    methods = _list_methods()
    positional_options = {}
    for name, method in methods:
        parameters = inspect.signature(method).parameters.values()
        options = [p for p in parameters if p.default is not inspect.Parameter.empty]
        by_position = [p.name for p in options if p.kind is p.POSITIONAL_OR_KEYWORD]
        if len(options) > MAX_POSITIONAL_OPTIONS and by_position:
            positional_options[name] = by_position
    assert len(methods) > 20  # the sweep found the services and clients
    assert positional_options == {}


def test_listing_training_jobs_with_positional_nones_is_refused(home: Path) -> None:
    from slipway.platform import services

    training = services().training
    with pytest.raises(TypeError, match="positional argument"):
        training.list_training_jobs(None, "churn", None, 1000, None)
    named = training.list_training_jobs(name_contains="churn", max_results=1000)
    assert named.items == []
