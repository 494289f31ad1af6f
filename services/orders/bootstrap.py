"""Composition root of orders."""

from __future__ import annotations

from dataclasses import dataclass

from services.orders.adapters.tables import metadata
from services.orders.settings import OrdersSettings
from shared.runtime import Infrastructure


@dataclass
class OrdersApp:
    settings: OrdersSettings
    infra: Infrastructure


def build(settings: OrdersSettings | None = None) -> OrdersApp:
    settings = settings or OrdersSettings()
    return OrdersApp(settings=settings, infra=Infrastructure.build(settings, metadata))
