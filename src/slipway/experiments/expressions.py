"""The reference search expression language, translated to one SQL query.

An expression (Filters, NestedFilters, SubExpressions joined by And/Or) becomes a WHERE
clause over the resource's table: plain properties compare columns, and properties that
live in child tables (``Parameters.*``, ``Metrics.*``, ``Tags.*``, ``Parents.*``,
artifacts) become correlated ``EXISTS`` sub-queries that the child tables' indices answer.
Nothing is evaluated in Python over a table. Results are sorted with the entity id as a
tie-breaker, so pages are stable, and ``NextToken`` is the opaque offset of the next page.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import pydantic
import sqlalchemy as sa
from pydantic import Field, WithJsonSchema

from slipway.errors import ValidationError, describe_problems
from slipway.experiments import tables as t
from slipway.experiments.models import SortOrder, WireModel

MAX_RESULTS = 100
# A BIGINT with room to add a page's size: tokens also hold row ids, which grow past 2**31.
_MAX_OFFSET = 2**62


class Operator(StrEnum):
    EQUALS = "Equals"
    NOT_EQUALS = "NotEquals"
    GREATER_THAN = "GreaterThan"
    GREATER_THAN_OR_EQUAL_TO = "GreaterThanOrEqualTo"
    LESS_THAN = "LessThan"
    LESS_THAN_OR_EQUAL_TO = "LessThanOrEqualTo"
    CONTAINS = "Contains"
    EXISTS = "Exists"
    NOT_EXISTS = "NotExists"
    IN = "In"


class BooleanOperator(StrEnum):
    AND = "And"
    OR = "Or"


class Filter(WireModel):
    name: Annotated[str, Field(min_length=1, max_length=1024)]
    operator: Operator = Operator.EQUALS
    value: Annotated[str | None, Field(max_length=1024)] = None


FILTER_EXAMPLE = "Metrics.accuracy.Max GreaterThan 0.9"


def parse_filter(text: str) -> Filter:
    """A filter written as text, ``Name Operator Value`` (the value may hold spaces)."""
    parts = text.split(maxsplit=2)
    if len(parts) < 2:
        raise ValidationError(
            f"filter {text!r} is not 'Name Operator Value'; for example {FILTER_EXAMPLE!r}"
        )
    try:
        operator = Operator(parts[1])
    except ValueError:
        raise ValidationError(
            f"filter {text!r}: operator {parts[1]!r} is not one of "
            + ", ".join(op.value for op in Operator)
        ) from None
    value = parts[2] if len(parts) == 3 else None
    try:
        return Filter(name=parts[0], operator=operator, value=value)
    except pydantic.ValidationError as error:
        raise ValidationError(f"filter {text!r}: {describe_problems(error.errors())}") from None


class NestedFilters(WireModel):
    nested_property_name: str
    filters: Annotated[list[Filter], Field(min_length=1, max_length=20)]


class SearchExpression(WireModel):
    filters: Annotated[list[Filter], Field(max_length=20)] = []
    nested_filters: Annotated[list[NestedFilters], Field(max_length=20)] = []
    sub_expressions: Annotated[list[SearchExpression], Field(max_length=20)] = []
    operator: BooleanOperator = BooleanOperator.AND


# The reference's other names of resources.
RESOURCE_ALIASES = {"ExperimentTrial": "Trial", "ExperimentTrialComponent": "TrialComponent"}


class Resource(StrEnum):
    EXPERIMENT = "Experiment"
    TRIAL = "Trial"
    TRIAL_COMPONENT = "TrialComponent"

    @classmethod
    def parse(cls, value: str) -> Resource:
        try:
            return cls(RESOURCE_ALIASES.get(value, value))
        except ValueError:
            raise ValidationError(
                f"search resource {value!r} is not known; use Experiment, Trial or "
                "TrialComponent (ExperimentTrial and ExperimentTrialComponent also work)"
            ) from None


_ORDER = {
    Operator.GREATER_THAN: lambda c, v: c > v,
    Operator.GREATER_THAN_OR_EQUAL_TO: lambda c, v: c >= v,
    Operator.LESS_THAN: lambda c, v: c < v,
    Operator.LESS_THAN_OR_EQUAL_TO: lambda c, v: c <= v,
}
_STATS = {"Max", "Min", "Avg", "Last", "Count", "StdDev"}
_STAT_COLUMN = {
    "Max": "max",
    "Min": "min",
    "Avg": "avg",
    "Last": "last",
    "Count": "count",
    "StdDev": "std_dev",
}


def _value(f: Filter) -> str:
    if f.value is None:
        raise ValidationError(f"filter on {f.name!r} with operator {f.operator} needs a Value")
    return f.value


def _number(f: Filter, text: str | None = None) -> float:
    text = _value(f) if text is None else text
    try:
        return float(text)
    except ValueError:
        raise ValidationError(
            f"filter on {f.name!r} compares numbers, but its value {text!r} is not a number"
        ) from None


def _time(f: Filter, text: str | None = None) -> dt.datetime:
    text = _value(f) if text is None else text
    try:
        return dt.datetime.fromtimestamp(float(text), dt.UTC)
    except (ValueError, OverflowError, OSError):  # not a number, or no year a datetime holds
        pass
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"filter on {f.name!r} compares times, but {text!r} is neither an ISO 8601 "
            "time nor seconds since the epoch"
        ) from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _compare(column: sa.ColumnElement, f: Filter, kind: str) -> sa.ColumnElement:
    """Compare one column with a filter's value; kind is "string", "number" or "time"."""
    convert: Callable[[Filter, str | None], object] = {
        "string": lambda _f, text: _value(f) if text is None else text,
        "number": _number,
        "time": _time,
    }[kind]
    op = f.operator
    if op == Operator.EXISTS:
        return column.is_not(None)
    if op == Operator.NOT_EXISTS:
        return column.is_(None)
    if op == Operator.EQUALS:
        return column == convert(f, None)
    if op == Operator.NOT_EQUALS:
        return column != convert(f, None)
    if op == Operator.IN:
        return column.in_([convert(f, part.strip()) for part in _value(f).split(",")])
    if op == Operator.CONTAINS:
        if kind != "string":
            raise ValidationError(f"operator Contains works on text, not on {f.name!r}")
        return column.like(f"%{_escape_like(_value(f))}%", escape="\\")
    return _ORDER[op](column, convert(f, None))


# --- properties -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Columns:
    """The columns of one resource that plain properties map to."""

    table: sa.Table
    plain: dict[str, tuple[str, str]]  # property -> (column, kind)
    tags: sa.Table


_RESOURCES = {
    Resource.EXPERIMENT: _Columns(
        t.experiments,
        {
            "ExperimentName": ("name", "string"),
            "Name": ("name", "string"),
            "DisplayName": ("display_name", "string"),
            "Description": ("description", "string"),
            "CreationTime": ("created_at", "time"),
            "LastModifiedTime": ("modified_at", "time"),
        },
        t.experiment_tags,
    ),
    Resource.TRIAL: _Columns(
        t.trials,
        {
            "TrialName": ("name", "string"),
            "Name": ("name", "string"),
            "DisplayName": ("display_name", "string"),
            "CreationTime": ("created_at", "time"),
            "LastModifiedTime": ("modified_at", "time"),
        },
        t.trial_tags,
    ),
    Resource.TRIAL_COMPONENT: _Columns(
        t.trial_components,
        {
            "TrialComponentName": ("name", "string"),
            "Name": ("name", "string"),
            "DisplayName": ("display_name", "string"),
            "Status.PrimaryStatus": ("status", "string"),
            "Status.Message": ("status_message", "string"),
            "StartTime": ("start_time", "time"),
            "EndTime": ("end_time", "time"),
            "CreationTime": ("created_at", "time"),
            "LastModifiedTime": ("modified_at", "time"),
            "Source.SourceArn": ("source_arn", "string"),
            "Source.SourceType": ("source_type", "string"),
        },
        t.trial_component_tags,
    ),
}


def _known_properties(resource: Resource) -> str:
    names = sorted(_RESOURCES[resource].plain)
    if resource == Resource.TRIAL_COMPONENT:
        names += [
            "Parameters.<name>",
            "Metrics.<name>.<Max|Min|Avg|Last|Count|StdDev>",
            "InputArtifacts.<name>.Value",
            "OutputArtifacts.<name>.Value",
            "Parents.TrialName",
            "Parents.ExperimentName",
        ]
    if resource == Resource.TRIAL:
        names += ["ExperimentName", "Parents.ExperimentName"]
    return ", ".join([*names, "Tags.<key>"])


def _unknown(resource: Resource, name: str) -> ValidationError:
    return ValidationError(
        f"cannot search {resource} by {name!r}; searchable properties are "
        f"{_known_properties(resource)}"
    )


def _child_exists(child: sa.Table, owner_column: str, owner: sa.Table, *conds) -> sa.Exists:
    return sa.exists().where(child.c[owner_column] == owner.c.id, *conds)


def _parameter(f: Filter, name: str, owner: sa.Table) -> sa.ColumnElement:
    p = t.parameters
    base = p.c.name == name
    if f.operator in (Operator.EXISTS, Operator.NOT_EXISTS):
        exists = _child_exists(p, "trial_component_id", owner, base)
        return exists if f.operator == Operator.EXISTS else ~exists
    if f.operator == Operator.CONTAINS:
        cond = _compare(p.c.string_value, f, "string")
    elif f.operator in _ORDER:
        cond = _compare(p.c.number_value, f, "number")
    else:
        values = _value(f).split(",") if f.operator == Operator.IN else [_value(f)]
        cond = sa.or_(*(_parameter_equals(p, v.strip()) for v in values))
        if f.operator == Operator.NOT_EQUALS:
            cond = ~cond
    return _child_exists(p, "trial_component_id", owner, base, cond)


def _parameter_equals(p: sa.Table, text: str) -> sa.ColumnElement:
    """ "0.1" finds NumberValue 0.1 as well as StringValue "0.1"; never NULL, so NOT works."""
    cond = sa.and_(p.c.string_value.is_not(None), p.c.string_value == text)
    try:
        number = float(text)
    except ValueError:
        return cond
    return sa.or_(cond, sa.and_(p.c.number_value.is_not(None), p.c.number_value == number))


def _metric(f: Filter, rest: str, owner: sa.Table) -> sa.ColumnElement:
    name, _, stat = rest.rpartition(".")
    if not name or stat not in _STATS:
        raise ValidationError(
            f"metric property {f.name!r} must name a statistic: "
            "Metrics.<name>.<Max|Min|Avg|Last|Count|StdDev>"
        )
    m = t.metric_summaries
    base = (m.c.name == name,)
    if f.operator in (Operator.EXISTS, Operator.NOT_EXISTS):
        exists = _child_exists(m, "trial_component_id", owner, *base)
        return exists if f.operator == Operator.EXISTS else ~exists
    cond = _compare(m.c[_STAT_COLUMN[stat]], f, "number")
    return _child_exists(m, "trial_component_id", owner, *base, cond)


def _artifact(f: Filter, direction: str, rest: str, owner: sa.Table) -> sa.ColumnElement:
    name, _, field = rest.rpartition(".")
    if not name or field not in ("Value", "MediaType"):
        raise ValidationError(f"artifact property {f.name!r} must end in .Value or .MediaType")
    a = t.artifacts
    column = a.c.value if field == "Value" else a.c.media_type
    base = (a.c.direction == direction, a.c.name == name)
    if f.operator in (Operator.EXISTS, Operator.NOT_EXISTS):
        exists = _child_exists(a, "trial_component_id", owner, *base)
        return exists if f.operator == Operator.EXISTS else ~exists
    return _child_exists(a, "trial_component_id", owner, *base, _compare(column, f, "string"))


def _tag(f: Filter, key: str, tags: sa.Table, owner: sa.Table) -> sa.ColumnElement:
    base = (tags.c.key == key,)
    if f.operator in (Operator.EXISTS, Operator.NOT_EXISTS):
        exists = _child_exists(tags, "owner_id", owner, *base)
        return exists if f.operator == Operator.EXISTS else ~exists
    return _child_exists(tags, "owner_id", owner, *base, _compare(tags.c.value, f, "string"))


def _parent_condition(f: Filter, resource: Resource) -> sa.ColumnElement:
    """A condition on the joined trial/experiment row of a Parents filter."""
    field = f.name.removeprefix("Parents.")
    if field == "ExperimentName":
        return _compare(t.experiments.c.name, f, "string")
    if field == "TrialName" and resource == Resource.TRIAL_COMPONENT:
        return _compare(t.trials.c.name, f, "string")
    raise _unknown(resource, f.name)


def _parents(filters: list[Filter], resource: Resource, owner: sa.Table) -> sa.ColumnElement:
    """All filters must hold for one and the same parent (that is what nesting means)."""
    if any(f.operator in (Operator.EXISTS, Operator.NOT_EXISTS) for f in filters):
        raise ValidationError("Parents filters take a value; use Equals, In or Contains")
    conds = [_parent_condition(f, resource) for f in filters]
    if resource == Resource.TRIAL:
        return sa.exists().where(t.experiments.c.id == owner.c.experiment_id, *conds)
    links = t.trial_component_links
    return (
        sa.exists()
        .select_from(
            links.join(t.trials, t.trials.c.id == links.c.trial_id).join(
                t.experiments, t.experiments.c.id == t.trials.c.experiment_id
            )
        )
        .where(links.c.trial_component_id == owner.c.id, *conds)
    )


def _filter(f: Filter, resource: Resource) -> sa.ColumnElement:
    spec = _RESOURCES[resource]
    owner = spec.table
    if f.name in spec.plain:
        column, kind = spec.plain[f.name]
        return _compare(owner.c[column], f, kind)
    head, _, rest = f.name.partition(".")
    if head == "Tags" and rest:
        return _tag(f, rest, spec.tags, owner)
    if resource == Resource.TRIAL and f.name in ("ExperimentName", "Parents.ExperimentName"):
        return _parents([f.model_copy(update={"name": "Parents.ExperimentName"})], resource, owner)
    if resource == Resource.TRIAL_COMPONENT and rest:
        if head == "Parameters":
            return _parameter(f, rest, owner)
        if head == "Metrics":
            return _metric(f, rest, owner)
        if head in ("InputArtifacts", "OutputArtifacts"):
            return _artifact(f, head.removesuffix("Artifacts").lower(), rest, owner)
        if head == "Parents":
            return _parents([f], resource, owner)
    if resource == Resource.TRIAL_COMPONENT and f.name in ("TrialName", "ExperimentName"):
        return _parents([f.model_copy(update={"name": f"Parents.{f.name}"})], resource, owner)
    raise _unknown(resource, f.name)


def where_clause(expression: SearchExpression, resource: Resource) -> sa.ColumnElement:
    parts: list[sa.ColumnElement] = [_filter(f, resource) for f in expression.filters]
    for nested in expression.nested_filters:
        if nested.nested_property_name != "Parents":
            raise ValidationError(
                f"nested property {nested.nested_property_name!r} is not supported; "
                "NestedFilters work on Parents"
            )
        names = [
            f.model_copy(update={"name": f"Parents.{f.name.removeprefix('Parents.')}"})
            for f in nested.filters
        ]
        parts.append(_parents(names, resource, _RESOURCES[resource].table))
    parts += [where_clause(sub, resource) for sub in expression.sub_expressions]
    if not parts:
        return sa.true()
    join = sa.and_ if expression.operator == BooleanOperator.AND else sa.or_
    return join(*parts)


# --- sorting and pages ----------------------------------------------------------------


def _sort_columns(
    resource: Resource, sort_by: str
) -> tuple[list[sa.ColumnElement], Callable[[sa.Select], sa.Select]]:
    """The columns to order by and a function that adds the joins they need."""
    spec = _RESOURCES[resource]
    owner = spec.table
    if sort_by in spec.plain:
        return [owner.c[spec.plain[sort_by][0]]], lambda q: q
    if resource == Resource.TRIAL_COMPONENT:
        head, _, rest = sort_by.partition(".")
        if head == "Metrics":
            name, _, stat = rest.rpartition(".")
            if name and stat in _STATS:
                m = t.metric_summaries.alias("sort_metric")
                on = sa.and_(m.c.trial_component_id == owner.c.id, m.c.name == name)
                return [m.c[_STAT_COLUMN[stat]]], lambda q: q.outerjoin(m, on)
        if head == "Parameters" and rest:
            p = t.parameters.alias("sort_parameter")
            on = sa.and_(p.c.trial_component_id == owner.c.id, p.c.name == rest)
            # Numbers sort among numbers, strings among strings.
            return [p.c.number_value, p.c.string_value], lambda q: q.outerjoin(p, on)
    raise ValidationError(
        f"cannot sort {resource} by {sort_by!r}; sort by one of {_known_properties(resource)}"
    )


def sort_key(resource: Resource) -> Any:
    """The type of a SortBy for ``resource``: what _sort_columns accepts, stated in the
    OpenAPI schema."""
    schema: dict[str, Any] = {"type": "string", "enum": sorted(_RESOURCES[resource].plain)}
    if resource == Resource.TRIAL_COMPONENT:
        stats = "|".join(sorted(_STATS))
        metric = {"type": "string", "pattern": rf"^Metrics\..+\.({stats})$"}
        parameter = {"type": "string", "pattern": r"^Parameters\..+$"}
        schema = {"anyOf": [schema, metric, parameter]}
    # Not empty: the service reads an empty SortBy as none at all.
    return Annotated[str, Field(min_length=1), WithJsonSchema(schema)]


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError):
        offset = None
    # The bound keeps a forged offset from overflowing the database's integer.
    if not isinstance(offset, int) or not 0 <= offset <= _MAX_OFFSET:
        raise ValidationError(
            f"NextToken {token[:40]!r} is not a token this server gave out; "
            "pass the NextToken of the previous page unchanged"
        )
    return offset


def _metric_of(name: str) -> tuple[str, str] | None:
    """(metric, statistic) of a ``Metrics.<metric>.<Stat>`` property, else None."""
    head, _, rest = name.partition(".")
    metric, _, stat = rest.rpartition(".")
    return (metric, stat) if head == "Metrics" and metric and stat in _STATS else None


def _metric_sort_shortcut(
    resource: Resource, expression: SearchExpression | None, sort_by: str
) -> tuple[str, str, list[Filter]] | None:
    """When results are sorted by a metric that an AND-ed filter requires anyway, say so.

    Then the query can join the summary row instead of outer-joining it, filter on the
    joined row and let the (name, statistic) index deliver rows already in order: a page
    over 100,000 components costs a range scan, not a scan of every component.
    """
    sort_metric = _metric_of(sort_by) if resource == Resource.TRIAL_COMPONENT else None
    if sort_metric is None or expression is None:
        return None
    if expression.operator != BooleanOperator.AND:
        return None
    on_metric = [
        f
        for f in expression.filters
        if (found := _metric_of(f.name)) is not None
        and found[0] == sort_metric[0]
        and f.operator != Operator.NOT_EXISTS
    ]
    return (*sort_metric, on_metric) if on_metric else None


def id_query(
    resource: Resource,
    expression: SearchExpression | None,
    sort_by: str | None,
    sort_order: SortOrder | None,
    max_results: int,
    next_token: str | None,
) -> tuple[sa.Select, int]:
    """The SELECT of one page of ids (one more than asked, to know if a page follows)."""
    if not 1 <= max_results <= 1000:
        raise ValidationError(f"MaxResults {max_results} is out of range; use 1 to 1000")
    owner = _RESOURCES[resource].table
    sort_by = sort_by or "CreationTime"
    shortcut = _metric_sort_shortcut(resource, expression, sort_by)
    if shortcut is not None and expression is not None:
        metric, stat, metric_filters = shortcut
        m = t.metric_summaries.alias("sort_metric")
        joined = owner.join(m, sa.and_(m.c.trial_component_id == owner.c.id, m.c.name == metric))
        conds = [
            _compare(m.c[_STAT_COLUMN[_metric_of(f.name)[1]]], f, "number")
            for f in metric_filters
            if f.operator != Operator.EXISTS
        ]
        rest = expression.model_copy(
            update={"filters": [f for f in expression.filters if f not in metric_filters]}
        )
        query = sa.select(owner.c.id).select_from(joined).where(*conds)
        query = query.where(where_clause(rest, resource))
        columns = [m.c[_STAT_COLUMN[stat]]]
    else:
        columns, add_joins = _sort_columns(resource, sort_by)
        query = add_joins(sa.select(owner.c.id).select_from(owner))
        if expression is not None:
            query = query.where(where_clause(expression, resource))
    descending = (sort_order or SortOrder.DESCENDING) == SortOrder.DESCENDING
    order = [(c.desc() if descending else c.asc()).nulls_last() for c in columns]
    tie = owner.c.id.desc() if descending else owner.c.id.asc()
    offset = decode_token(next_token)
    return query.order_by(*order, tie).offset(offset).limit(max_results + 1), offset
