"""Composition root of analytics."""

from __future__ import annotations

from dataclasses import dataclass

from services.analytics.adapters.tables import metadata
from services.analytics.entrypoints import subscribers
from services.analytics.service_layer.projection import Projection
from services.analytics.settings import AnalyticsSettings
from shared.runtime import Infrastructure


@dataclass
class AnalyticsApp:
    settings: AnalyticsSettings
    infra: Infrastructure
    projection: Projection


def build(settings: AnalyticsSettings | None = None) -> AnalyticsApp:
    settings = settings or AnalyticsSettings()
    infra = Infrastructure.build(settings, metadata)
    projection = Projection(infra.sessions)
    subscribers.register(infra.broker, projection)
    return AnalyticsApp(settings=settings, infra=infra, projection=projection)
