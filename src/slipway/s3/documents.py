"""S3's XML: answers built from (name, value) pairs, and request bodies read safely."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Union
from xml.etree.ElementTree import Element, SubElement, tostring

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from slipway.errors import ValidationError

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
XML_CONTENT_TYPE = "application/xml"

# A child is a (name, text) pair or a (name, children) pair; None leaves it out.
Children = Sequence[tuple[str, Union[str, int, bool, dt.datetime, "Children", None]]]


def document(root: str, children: Children, namespace: str | None = NAMESPACE) -> bytes:
    """An XML document; S3's error documents have no namespace, its answers do."""
    element = Element(root, xmlns=namespace) if namespace else Element(root)
    _fill(element, children)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(element, encoding="utf-8")


def _fill(parent: Element, children: Children) -> None:
    for name, value in children:
        if value is None:
            continue
        child = SubElement(parent, name)
        if isinstance(value, list | tuple):
            _fill(child, value)
        else:
            child.text = _text(value)


def _text(value: str | int | bool | dt.datetime) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return iso_time(value)
    return str(value)


def iso_time(moment: dt.datetime) -> str:
    return (
        moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{moment.microsecond // 1000:03d}Z"
    )


def parse(body: bytes, root: str) -> list[tuple[str, str, dict[str, str]]]:
    """The children of a request document's ``root``: (tag, text, {child tag: text}).

    Requests may or may not use S3's namespace; tags are compared without it. Entity
    tricks (billion laughs, external entities) are refused by defusedxml.
    """
    try:
        element = safe_xml.fromstring(body)
    except (safe_xml.ParseError, DefusedXmlException) as error:
        raise ValidationError(f"the request body is not well-formed XML: {error}") from None
    if _local(element.tag) != root:
        raise ValidationError(
            f"the request body's root element is {_local(element.tag)!r}; expected {root!r}"
        )
    return [
        (
            _local(child.tag),
            (child.text or "").strip(),
            {_local(item.tag): item.text or "" for item in child},
        )
        for child in element
    ]


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
