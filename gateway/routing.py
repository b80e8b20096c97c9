"""Routes that skip FastAPI's parameter machinery, for the hottest paths."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class LeanRoute(APIRoute):
    """A route whose endpoint takes the request alone and returns its response.

    FastAPI's dependency and parameter resolution, a quarter of a notebook read, is skipped:
    the endpoint reads and checks its parameters itself and documents them with
    ``openapi_extra`` (see :func:`header_parameter`). The route is otherwise a FastAPI route:
    routing, error handlers and the OpenAPI document treat it as any other.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        parameters = list(inspect.signature(endpoint).parameters)
        if parameters != ["request"] or not inspect.iscoroutinefunction(endpoint):
            raise TypeError(f"{endpoint.__name__}: a lean endpoint is async def f(request)")
        super().__init__(path, endpoint, **options)

    def get_route_handler(self) -> Endpoint:
        endpoint: Endpoint = self.endpoint
        return endpoint


def lean_route(
    router: APIRouter, path: str, *, methods: list[str], **options: Any
) -> Callable[[Endpoint], Endpoint]:
    """Register the decorated endpoint on ``router`` as a :class:`LeanRoute`."""

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(
            path, endpoint, methods=methods, route_class_override=LeanRoute, **options
        )
        return endpoint

    return register


def header_parameter(name: str, description: str) -> dict[str, Any]:
    """An optional header as the OpenAPI document describes it."""
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }
