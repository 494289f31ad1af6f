"""Database factory: SQLite by default, PostgreSQL when DATABASE_URL says so.

Each service declares its tables on its own `service_table_base()`, so its
metadata (and its migrations) hold only its own tables: no shared tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, MetaData, Table, event, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import registry
from sqlalchemy.schema import CreateColumn
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

MIGRATE_LOCK = 0x71756E6C  # "qunl": the advisory lock key that serialises create_all


def service_table_base() -> type[SQLModel]:
    """A SQLModel base with its own metadata, one per service."""

    class ServiceTable(SQLModel, registry=registry()):
        pass

    return ServiceTable


def normalize_url(url: str) -> str:
    """Accept the URLs ops write (postgres://, postgresql://) and pick the async drivers."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers run beside the single writer; NORMAL sync is durable in WAL.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def migrate(engine: AsyncEngine, metadata: MetaData) -> None:
    """Create the service's tables if missing (the schema is versioned with the code).

    Replicas starting together on a fresh PostgreSQL database would race on CREATE TABLE;
    a transaction-scoped advisory lock lets one create while the others wait, then see.
    """
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK})
        await conn.run_sync(_create_or_grow, metadata)


def _create_or_grow(conn: Connection, metadata: MetaData) -> None:
    """Create the missing tables whole (with their indexes); only the tables that existed
    already are inspected for missing columns and indexes (inspecting a table costs a
    catalogue query per table and per index: most of a fresh start's migration)."""
    existing = set(inspect(conn).get_table_names())
    missing = [table for table in metadata.sorted_tables if table.name not in existing]
    metadata.create_all(conn, tables=missing, checkfirst=False)
    grown = [table for table in metadata.sorted_tables if table.name in existing]
    _add_missing_columns(conn, grown)
    _add_missing_indexes(conn, grown)


def _add_missing_columns(conn: Connection, tables: list[Table]) -> None:
    """Tables only grow (docs/decisions/0001): a column the code has and an existing table
    lacks is added, if it may be empty (nullable) or has a server default; anything else
    needs a real migration and stops the start with a clear error."""
    inspector = inspect(conn)
    for table in tables:
        existing = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in existing:
                continue
            if not (column.nullable or column.server_default is not None):
                raise RuntimeError(
                    f"{table.name}.{column.name} is missing and cannot be added empty: "
                    "this schema change needs a migration"
                )
            ddl = CreateColumn(column).compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {ddl}"))


def _add_missing_indexes(conn: Connection, tables: list[Table]) -> None:
    """An index the code declares on a table that exists already (create_all only indexes
    the tables it creates): indexes only speed reads up, so adding one is always safe."""
    for table in tables:
        for index in table.indexes:
            index.create(conn, checkfirst=True)


async def is_migrated(engine: AsyncEngine, metadata: MetaData) -> bool:
    async with engine.connect() as conn:
        existing = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    return set(metadata.tables) <= existing
