"""Every service reads times with their zone at its HTTP edge (issue 13 item 3): no request
body or query parameter of any service accepts a naive datetime. (Ingest's webhooks read
external platforms' payloads by hand, and document how they read their times.)"""

from __future__ import annotations

import datetime
import importlib
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BaseModel

SERVICES = ["ingest", "live", "orders", "analytics"]


def _naive_datetimes(annotation: Any, where: str, seen: set[type]) -> Iterator[str]:
    if annotation is datetime.datetime:
        yield where
        return
    if annotation is AwareDatetime:
        return
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return
        seen.add(annotation)
        for name, field in annotation.model_fields.items():
            yield from _naive_datetimes(field.annotation, f"{annotation.__name__}.{name}", seen)
        return
    for arg in typing.get_args(annotation):
        yield from _naive_datetimes(arg, where, seen)


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # FastAPI includes a router as one lazily expanded entry.
        router = getattr(route, "original_router", None)
        if router is not None:
            yield from _api_routes(router.routes)


@pytest.mark.parametrize("service", SERVICES)
def test_no_request_accepts_a_time_without_its_zone(service: str) -> None:
    app = importlib.import_module(f"services.{service}.main").create_app()
    naive: list[str] = []
    routes = list(_api_routes(app.routes))
    assert routes, "no API routes found: the walk above no longer matches FastAPI"
    for route in routes:
        params = [*route.dependant.body_params, *route.dependant.query_params]
        for dependency in route.dependant.dependencies:
            params += [*dependency.body_params, *dependency.query_params]
        for param in params:
            where = f"{route.path} {param.name}"
            naive += _naive_datetimes(param.field_info.annotation, where, set())
    assert naive == []


def _lax_numbers(annotation: Any, seen: set[type]) -> Iterator[str]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return
        seen.add(annotation)
        for name, field in annotation.model_fields.items():
            kinds = {field.annotation, *typing.get_args(field.annotation)}
            strict = any(getattr(rule, "strict", None) for rule in field.metadata)
            if kinds & {int, float, bool} and not strict:
                yield f"{annotation.__name__}.{name}"
            yield from _lax_numbers(field.annotation, seen)
        return
    for arg in typing.get_args(annotation):
        yield from _lax_numbers(arg, seen)


@pytest.mark.parametrize("service", SERVICES)
def test_request_bodies_take_numbers_and_booleans_as_json_gives_them(service: str) -> None:
    """A JSON body's number is a JSON number and its boolean a JSON boolean, as the OpenAPI
    says: `"5"`, `5.0` for an integer or `"true"` for a boolean are 422, not coerced
    (schemathesis' negative_data_rejection check found them accepted)."""
    app = importlib.import_module(f"services.{service}.main").create_app()
    lax: list[str] = []
    for route in _api_routes(app.routes):
        for param in route.dependant.body_params:
            lax += _lax_numbers(param.field_info.annotation, set())
    assert lax == [], "declare these Field(strict=True)"
