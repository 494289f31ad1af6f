"""A table that exists from an older version gets the columns the code added since."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Index, Integer, MetaData, String, Table, inspect, text

from shared import db


def _table(metadata: MetaData, *extra: Column) -> Table:
    return Table("t_grows", metadata, Column("id", String, primary_key=True), *extra)


async def test_a_new_empty_column_is_added_to_an_existing_table(database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        old = MetaData()
        _table(old)
        await db.migrate(engine, old)
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t_grows (id) VALUES ('a')"))
        new = MetaData()
        _table(
            new,
            Column("note", String, nullable=True),
            Column("count", Integer, nullable=False, server_default="0"),
            Index("ix_t_grows_note", "note", "count"),
        )
        await db.migrate(engine, new)
        await db.migrate(engine, new)  # again: nothing to do
        async with engine.connect() as conn:
            names = await conn.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("t_grows")}
            )
            indexes = await conn.run_sync(
                lambda c: {ix["name"] for ix in inspect(c).get_indexes("t_grows")}
            )
            row = (await conn.execute(text("SELECT id, note, count FROM t_grows"))).one()
        assert names == {"id", "note", "count"} and tuple(row) == ("a", None, 0)
        assert "ix_t_grows_note" in indexes  # declared since: added to the existing table
        stricter = MetaData()
        _table(stricter, Column("must", String, nullable=False))
        with pytest.raises(RuntimeError, match="needs a migration"):
            await db.migrate(engine, stricter)
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE IF EXISTS t_grows"))
        await engine.dispose()
