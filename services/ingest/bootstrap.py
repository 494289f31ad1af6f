"""Composition root of ingest."""

from __future__ import annotations

from dataclasses import dataclass

from services.ingest.adapters.tables import metadata
from services.ingest.settings import IngestSettings
from shared.runtime import Infrastructure


@dataclass
class IngestApp:
    settings: IngestSettings
    infra: Infrastructure


def build(settings: IngestSettings | None = None) -> IngestApp:
    settings = settings or IngestSettings()
    return IngestApp(settings=settings, infra=Infrastructure.build(settings, metadata))
