"""Payload models bound to one referential version.

The classes of :mod:`referential.models` describe the shape of the payloads; their coded fields
(:class:`~referential._types.CodeRef`) accept the codes of the version they are built for. This
module builds, for a given referential and version, a subclass of every payload model whose coded
fields are bound to that version and whose nested models are the bound ones.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from referential import models
from referential._referential import Referential
from referential._types import building
from referential.models import Payload

#: Payload classes in dependency order (a class comes after the classes it contains).
_PAYLOAD_CLASSES: tuple[type[Payload], ...] = tuple(
    obj
    for obj in vars(models).values()
    if isinstance(obj, type) and issubclass(obj, Payload) and obj is not Payload
)


@dataclass(frozen=True)
class BoundModels:
    """The payload models of one referential version."""

    referential: Referential
    version: str
    kinds: Mapping[str, type[Payload]]


def _substitute(annotation: Any, bound: Mapping[type[Payload], type[Payload]]) -> Any:
    """``annotation`` with its payload classes replaced by the bound ones; the very same
    object when it holds none (a field re-declared with its own annotation would get its
    metadata twice: validators run twice, constraints that cannot repeat fail)."""
    if isinstance(annotation, type) and annotation in bound:
        return bound[annotation]
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        base = _substitute(args[0], bound)
        return annotation if base is args[0] else Annotated[(base, *args[1:])]
    if origin is list:
        item = _substitute(args[0], bound)
        return annotation if item is args[0] else list[item]  # type: ignore[valid-type]
    if origin in (Union, types.UnionType):
        members = tuple(_substitute(arg, bound) for arg in args)
        if all(new is old for new, old in zip(members, args, strict=True)):
            return annotation
        return Union[members]  # noqa: UP007
    return annotation


def _order(classes: tuple[type[Payload], ...]) -> list[type[Payload]]:
    """Classes sorted so that every class comes after the payload classes its fields use."""
    ordered: list[type[Payload]] = []

    def uses(cls: type[Payload]) -> set[type[Payload]]:
        found: set[type[Payload]] = set()

        def visit(annotation: Any) -> None:
            if isinstance(annotation, type) and issubclass(annotation, Payload):
                found.add(annotation)
            for arg in get_args(annotation):
                visit(arg)

        for hint in typing.get_type_hints(cls, include_extras=True).values():
            visit(hint)
        return found

    def add(cls: type[Payload]) -> None:
        if cls in ordered:
            return
        for dependency in uses(cls):
            add(dependency)
        ordered.append(cls)

    for cls in classes:
        add(cls)
    return ordered


def build_models(referential: Referential, version: str) -> BoundModels:
    """Subclasses of every payload model, bound to the codes of ``version``."""
    bound: dict[type[Payload], type[Payload]] = {}
    token = building.set((referential, version))
    try:
        for cls in _order(_PAYLOAD_CLASSES):
            hints = typing.get_type_hints(cls, include_extras=True)
            namespace: dict[str, Any] = {
                "__module__": cls.__module__,
                "__qualname__": cls.__qualname__,
                "__doc__": cls.__doc__,
                "model_config": {**cls.model_config, "defer_build": False},
                "__annotations__": {},
            }
            for name, info in cls.model_fields.items():
                annotation = _substitute(hints[name], bound)
                if annotation is not hints[name]:
                    # The field's own metadata (the outer Annotated) is already in ``info``.
                    if get_origin(annotation) is Annotated:
                        annotation = get_args(annotation)[0]
                    namespace["__annotations__"][name] = annotation
                    namespace[name] = info
            bound[cls] = type(cls.__name__, (cls,), namespace)
    finally:
        building.reset(token)
    kinds = {kind: bound[cls] for kind, cls in models.PAYLOAD_KINDS.items()}
    return BoundModels(referential=referential, version=version, kinds=kinds)
