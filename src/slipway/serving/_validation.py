"""Checks of hosting entities that pydantic's field rules cannot express."""

from __future__ import annotations

from typing import Any

from slipway.errors import ValidationError
from slipway.inference import InferenceError, load_model
from slipway.inference._fetch import local_path
from slipway.serving.models import ProductionVariant
from slipway.serving.spec import EndpointSpec
from slipway.settings import Settings


def validated(cls: type, value: Any, what: str) -> Any:
    if isinstance(value, cls):
        return value
    try:
        return cls.model_validate(value)
    except Exception as error:  # pydantic's ValidationError, shown in one line
        raise ValidationError(f"{what} is not valid: {one_line(error)}") from None


def one_line(error: Exception) -> str:
    errors = getattr(error, "errors", None)
    if callable(errors):
        parts = []
        for item in errors()[:5]:
            where = ".".join(str(p) for p in item.get("loc", ()))
            parts.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
        return "; ".join(parts)
    return str(error)


def check_variants(variants: list[ProductionVariant]) -> None:
    if not variants:
        raise ValidationError("ProductionVariants needs at least one variant")
    if len(variants) > 10:
        raise ValidationError(f"ProductionVariants has {len(variants)} variants; the limit is 10")
    names = [v.variant_name for v in variants]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationError(f"variant names must differ; {', '.join(duplicates)} repeats")
    if sum(v.initial_variant_weight for v in variants) <= 0:
        raise ValidationError("at least one variant needs an InitialVariantWeight above 0")


def check_uri(what: str, uri: str) -> None:
    import fsspec

    try:
        fsspec.core.url_to_fs(uri)
    except (ValueError, ImportError) as error:
        raise ValidationError(
            f"{what} {uri!r} is not a URI slipway can read: {error}; use a path, file:// "
            "or s3:// URI"
        ) from None


def spec_problem(spec: EndpointSpec, settings: Settings) -> str | None:
    """Why the endpoint cannot serve, or None: each single model must load."""
    for variant in spec.variants:
        try:
            if variant.multi_model:
                path = local_path(variant.model_data_url)
                if path is not None and not path.is_dir():
                    return (
                        f"variant {variant.variant_name!r}: the multi-model prefix "
                        f"{variant.model_data_url!r} is not a folder"
                    )
            else:
                load_model(variant.model_data_url, environment=variant.env, settings=settings)
        except InferenceError as error:
            return f"variant {variant.variant_name!r}: {error.message}"[:1024]
        except Exception as error:
            return f"variant {variant.variant_name!r}: {type(error).__name__}: {error}"[:1024]
    return None
