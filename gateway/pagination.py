"""One convention for every list of the API, through fastapi-pagination's cursor pages.

A list is asked for with ``apres`` (an opaque cursor: absent for the first page, then the
``suivant`` of the page before) and ``limite`` (the page size); it answers ``elements`` and
``suivant`` (the cursor of the next page, null after the last one), and the same next page as
a ``Link`` header (RFC 8288, ``rel="next"``). A cursor is stable under concurrent inserts (each
list orders by a unique key and resumes after the last element served). The change feed is the
one list whose ``suivant`` is never null: it is where to resume once more changes happened
(``fin`` says whether the page reached the last one).
"""

from __future__ import annotations

import binascii
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import Query
from fastapi_pagination import pagination_ctx
from fastapi_pagination.api import request as current_request
from fastapi_pagination.bases import AbstractPage, AbstractParams
from fastapi_pagination.cursor import CursorPage
from fastapi_pagination.customization import (
    CustomizedPage,
    UseAdditionalFields,
    UseCursorEncoding,
    UseExcludedFields,
    UseFieldsAliases,
    UseIncludeTotal,
    UseName,
    UseParamsFields,
    UseResponseHeaders,
)
from fastapi_pagination.types import Cursor
from pydantic import BaseModel, Field

from gateway.errors import InvalidParameters

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")

CURSOR = "apres"
SIZE = "limite"
CURSOR_DOC = (
    "Curseur opaque : absent pour la première page, puis le « suivant » de la page précédente."
)
NEXT_DOC = "Le curseur de la page suivante, à passer dans « apres » (null après la dernière)."
#: The longest cursor a list hands out, with room.
CURSOR_MAX_LENGTH = 300


def invalid_cursor() -> InvalidParameters:
    return InvalidParameters(
        errors=[
            {
                "parameter": CURSOR,
                "in": "query",
                "code": "curseur_invalide",
                "message": "Curseur « apres » invalide : reprenez le « suivant » d'une page.",
            }
        ]
    )


def encode(_params: AbstractParams, cursor: Cursor | None) -> str | None:
    """A list's own position (text or bytes) as the opaque cursor the API hands out."""
    if cursor is None:
        return None
    raw = cursor.encode() if isinstance(cursor, str) else cursor
    return urlsafe_b64encode(raw).decode().rstrip("=")


def decode(_params: AbstractParams, cursor: str | None) -> str | None:
    """The list's own position from a cursor of :func:`encode` (400 ``curseur_invalide``)."""
    if cursor is None:
        return None
    try:
        return urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid_cursor() from None


def _link(page: AbstractPage[Any]) -> dict[str, str | Sequence[str]]:
    """The ``Link`` header of the next page, when there is one."""
    following = getattr(page, "next_page", None)
    if following is None:
        return {}
    url = current_request().url.include_query_params(**{CURSOR: following})
    return {"Link": f'<{url}>; rel="next"'}


def page_of(
    item: type[T],
    *,
    name: str,
    description: str,
    default: int = 50,
    maximum: int = 200,
    **extra: Any,
) -> Any:
    """The page type of a list of ``item`` (see the module): ``limite`` from 1 to ``maximum``
    (``default`` when absent); ``extra`` fields (name → (type, Field)) after the elements."""
    return CustomizedPage[
        CursorPage[item],  # type: ignore[valid-type]
        UseName(name),
        UseIncludeTotal(False),
        UseExcludedFields("total", "current_page", "current_page_backwards", "previous_page"),
        UseAdditionalFields(
            items=(list[item], Field(description=description)),  # type: ignore[valid-type]
            next_page=(str | None, Field(default=None, description=NEXT_DOC)),
            **extra,
        ),
        UseFieldsAliases(items="elements", next_page="suivant"),
        UseParamsFields(
            cursor=Query(None, alias=CURSOR, max_length=CURSOR_MAX_LENGTH, description=CURSOR_DOC),
            size=Query(default, ge=1, le=maximum, alias=SIZE, description="Taille de la page."),
        ),
        UseCursorEncoding(encode, decode),
        UseResponseHeaders(_link),
    ]


def params_of(page: Any) -> Any:
    """The dependency giving a list route its parameters (``apres``, ``limite``), which also
    lets the page set its ``Link`` header."""
    return pagination_ctx(page)


def position(params: Any) -> str | None:
    """The position a request resumes after (None: the first page)."""
    found: Any = params.to_raw_params().cursor
    return None if found is None else str(found)


def number(params: Any, maximum: int = 2**63 - 1) -> int | None:
    """The position of a list ordered by a number (a sequence, an id): the last one served."""
    found = position(params)
    if found is None:
        return None
    if not found.isascii() or not found.isdigit() or int(found) > maximum:
        raise invalid_cursor()
    return int(found)


def size(params: Any) -> int:
    """The page size asked for (``limite``)."""
    return int(params.size)


def page(
    page_type: Any, params: Any, elements: list[Any], following: Any | None, **extra: Any
) -> Any:
    """A page of ``elements``, the next one resuming after the position ``following``."""
    return page_type.create(
        elements, params, next_=None if following is None else str(following), **extra
    )


def from_rows(
    page_type: Any, params: Any, rows: list[R], key: Callable[[R], Any], wire: Callable[[R], Any]
) -> Any:
    """A page from the ``limite + 1`` rows read after the position: the first ``limite`` as
    ``wire`` gives them, and the next page when there was one more."""
    limit = size(params)
    shown = rows[:limit]
    following = key(shown[-1]) if len(rows) > limit else None
    return page(page_type, params, [wire(row) for row in shown], following)


def keyset(page_type: Any, params: Any, items: list[R], key: Callable[[R], str]) -> Any:
    """A page of a short list read whole (the subscriptions of an organisation, its agents):
    ordered by ``key`` (unique), resumed after the position."""
    after = position(params)
    ordered = sorted(items, key=key)
    rest = ordered if after is None else [item for item in ordered if key(item) > after]
    return from_rows(page_type, params, rest[: size(params) + 1], key, lambda item: item)
