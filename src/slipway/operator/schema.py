"""Pydantic JSON schemas turned into Kubernetes structural OpenAPI v3 schemas.

A CRD's schema must be structural: every node typed, no ``$ref``, no unions of types,
``properties`` and ``additionalProperties`` never together. Field names are lowerCamel,
the reference operator's spelling of the PascalCase wire names (``TrainingJobName`` ->
``trainingJobName``); the keys of free maps (hyperparameters, environment, channels) stay
as they are.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# Kept as they are: value validations a structural schema allows.
_KEPT = (
    "description",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
)
_FORMATS = {"date-time", "date", "int32", "int64", "double", "float", "byte"}
_PRESERVE = {"x-kubernetes-preserve-unknown-fields": True}


def camel(name: str) -> str:
    """A PascalCase wire name in the operator's lowerCamel spelling."""
    return name[:1].lower() + name[1:]


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's request schema, PascalCase names, every ``$ref`` inlined."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return _inline(raw, raw.get("$defs", {}))


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        extra = {k: v for k, v in node.items() if k != "$ref"}
        return _inline({**target, **extra}, defs)
    return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}


def structural(node: dict[str, Any]) -> dict[str, Any]:
    """One inlined JSON-schema node as a structural OpenAPI v3 node."""
    node = _collapse_union(node)
    if node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-int-or-string"):
        return node
    out: dict[str, Any] = {k: node[k] for k in _KEPT if k in node}
    if "const" in node:
        out["enum"] = [node["const"]]
    if node.get("format") in _FORMATS:
        out["format"] = node["format"]
    for bound, edge in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(bound), int | float) and not isinstance(node[bound], bool):
            out[edge] = node[bound]
            out[bound] = True
    kind = node.get("type")
    if kind is None:  # Any: anything goes, and is kept
        return {**out, **_PRESERVE}
    out["type"] = kind
    if kind == "array":
        out["items"] = structural(node.get("items", {}))
    elif kind == "object":
        out.update(_object(node))
    return out


def _object(node: dict[str, Any]) -> dict[str, Any]:
    if "properties" in node:
        required = [camel(name) for name in node.get("required", [])]
        props = {camel(k): structural(v) for k, v in node["properties"].items()}
        return {"properties": props, **({"required": required} if required else {})}
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        return {"additionalProperties": structural(extra)}
    return _PRESERVE


def _collapse_union(node: dict[str, Any]) -> dict[str, Any]:
    """``X | None`` becomes nullable X; any other union of types is kept unchecked."""
    branches = node.get("anyOf") or node.get("oneOf")
    if not branches:
        return node
    rest = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
    real = [b for b in branches if b.get("type") != "null"]
    nullable = len(real) < len(branches)
    if len(real) == 1:
        return {**rest, **real[0], **({"nullable": True} if nullable else {})}
    kept = {k: rest[k] for k in ("description",) if k in rest}
    if {b.get("type") for b in real} == {"integer", "string"}:
        return {**kept, "x-kubernetes-int-or-string": True}
    return {**kept, **_PRESERVE}


def to_wire(value: Any, schema: dict[str, Any]) -> Any:
    """A custom resource's lowerCamel spec back in the model's PascalCase wire names."""
    schema = _collapse_union(schema)
    if isinstance(value, list):
        return [to_wire(item, schema.get("items", {})) for item in value]
    if not isinstance(value, dict):
        return value
    props = schema.get("properties")
    if props is not None:
        by_camel = {camel(name): (name, sub) for name, sub in props.items()}
        out = {}
        for key, item in value.items():
            name, sub = by_camel.get(key, (key, {}))
            out[name] = to_wire(item, sub)
        return out
    extra = schema.get("additionalProperties")
    sub = extra if isinstance(extra, dict) else {}
    return {key: to_wire(item, sub) for key, item in value.items()}


def from_wire(value: Any, schema: dict[str, Any]) -> Any:
    """A model's PascalCase wire value in lowerCamel names, the way a status holds it."""
    schema = _collapse_union(schema)
    if isinstance(value, list):
        return [from_wire(item, schema.get("items", {})) for item in value]
    if not isinstance(value, dict):
        return value
    props = schema.get("properties")
    if props is not None:
        return {camel(k): from_wire(v, props.get(k, {})) for k, v in value.items()}
    extra = schema.get("additionalProperties")
    sub = extra if isinstance(extra, dict) else {}
    return {key: from_wire(item, sub) for key, item in value.items()}


def status_value(model: BaseModel) -> Any:
    """A service's answer (a wire model) as a status field holds it."""
    wire = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return from_wire(wire, model_schema(type(model)))
