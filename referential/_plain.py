"""A payload model's rules, compiled a second time to produce plain dicts instead of models.

Building some 150 model instances is about half of pydantic-core's time on a large notebook;
the validation API and ``carnet validate`` only want the findings. :func:`plain_validator` takes
the core schema pydantic generated for a payload model and swaps each model for a typed dict of
the same fields, under the same configuration (strictness, unknown fields refused): every other
node — types, constraints, code lists, the field validators (NIR, SIRET, phone, timestamps) — is
the very same, so the errors are pydantic-core's errors for the same rules. Defaults are not
filled in (the dicts hold the keys the payload sent), and the model validators (periods, the
code-or-label rule of actions) run on a read-only view of the dict with the model's defaults.

Only the shapes the payload models use are converted; anything else (an alias, a computed
field, a custom ``__init__``…) is refused when the validator is built, so that a new model
feature cannot slip through unconverted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any, cast

from pydantic import BaseModel
from pydantic_core import CoreSchema, SchemaValidator, core_schema

#: Keys of a ``model`` node the conversion knows (the others must be absent or falsy).
_MODEL_KEYS = frozenset({"type", "cls", "schema", "config", "ref", "metadata", "custom_init"})
_MODEL_FLAGS = ("custom_init", "root_model", "post_init", "revalidate_instances")
_MODEL_FIELDS_KEYS = frozenset({"type", "fields", "model_name", "computed_fields"})
_FIELD_KEYS = frozenset({"type", "schema", "metadata", "frozen", "serialization_exclude"})


class UnsupportedSchema(TypeError):
    """A payload model uses a feature the plain conversion does not carry over."""


def plain_validator(model: type[BaseModel]) -> SchemaValidator:
    """A validator of ``model``'s rules whose output is a plain dict (see the module's doc)."""
    schema = cast(dict[str, Any], model.__pydantic_core_schema__)
    config = schema.get("config") if schema.get("type") == "model" else None
    return SchemaValidator(cast(CoreSchema, _convert(schema)), config)


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if kind == "model":
        return _typed_dict(node)
    if kind == "function-after" and node["schema"].get("type") == "model":
        # A model validator (mode "after"): it receives the model, here a view of the dict.
        model = node["schema"]
        return {
            **node,
            "function": {
                "type": "no-info",
                "function": _on_view(node["function"], _defaults(model["cls"])),
            },
            "schema": _typed_dict(model),
        }
    if kind in ("function-wrap", "function-plain"):
        # A wrap validator may read the model its handler returns; a plain one replaces it.
        raise UnsupportedSchema(f"{kind} validators are not converted")
    return {key: value if key == "function" else _convert(value) for key, value in node.items()}


def _typed_dict(model: dict[str, Any]) -> dict[str, Any]:
    unknown = set(model) - _MODEL_KEYS - set(_MODEL_FLAGS)
    flags = [flag for flag in _MODEL_FLAGS if model.get(flag) not in (None, False, "never")]
    fields_node = model["schema"]
    if unknown or flags or fields_node.get("type") != "model-fields":
        raise UnsupportedSchema(f"{model['cls'].__name__}: {sorted(unknown) + flags}")
    if set(fields_node) - _MODEL_FIELDS_KEYS or fields_node.get("computed_fields"):
        raise UnsupportedSchema(f"{model['cls'].__name__}: computed fields or extras schema")
    fields: dict[str, core_schema.TypedDictField] = {}
    for name, field in fields_node["fields"].items():
        if set(field) - _FIELD_KEYS:
            raise UnsupportedSchema(f"{model['cls'].__name__}.{name}: {sorted(field)}")
        inner = field["schema"]
        required = inner.get("type") != "default"
        if not required:
            if set(inner) - {"type", "schema", "default", "metadata"}:
                raise UnsupportedSchema(f"{model['cls'].__name__}.{name}: {sorted(inner)}")
            inner = inner["schema"]
        fields[name] = core_schema.typed_dict_field(_convert(inner), required=required)
    config: core_schema.CoreConfig | None = model.get("config")
    converted: dict[str, Any] = dict(
        core_schema.typed_dict_schema(
            fields,
            extra_behavior=(config or {}).get("extra_fields_behavior"),
            total=True,
            config=config,
        )
    )
    if "ref" in model:
        converted["ref"] = model["ref"]
    return converted


def _defaults(cls: type[BaseModel]) -> dict[str, Any]:
    return {
        name: info.get_default(call_default_factory=True)
        for name, info in cls.model_fields.items()
        if not info.is_required()
    }


def _on_view(
    function: Mapping[str, Any], defaults: Mapping[str, Any]
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    if function.get("type") != "no-info":
        raise UnsupportedSchema("model validators with info are not converted")
    check = function["function"]

    def validate(values: dict[str, Any]) -> dict[str, Any]:
        check(SimpleNamespace(**{**defaults, **values}))
        return values

    return validate
