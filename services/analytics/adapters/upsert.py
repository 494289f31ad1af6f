"""SQL for the merge rules of domain/facts.py: one INSERT ... ON CONFLICT per table.

The statement merges a contribution into the stored row with the same rule the
fold used in memory, so a batch folded then merged equals the events applied one
by one. CASE expressions only, so the SQL is the same on SQLite and PostgreSQL;
only the INSERT construct is the dialect's.

Hot path (ARCHITECTURE rule 6): each statement is compiled once and run through the
driver's executemany with plain tuples. SQLAlchemy's per-value type processing was a
third of a batch's time when measured; the one conversion it did for us (a UTC time
to SQLite's text form) is done here, in the format SQLAlchemy reads back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, and_, bindparam, case, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.sql.sqltypes import UTCDateTime

from services.analytics.domain.facts import Merge, RowSpec


def _newer(old: Any, new: Any, order: tuple[str, ...]) -> ColumnElement[bool]:
    """new's order key > old's (tuple order; None lowest; a None key never wins)."""
    conditions = []
    equal_so_far: list[ColumnElement[bool]] = []
    for col in order:
        a, b = old[col], new[col]
        greater = or_(and_(a.is_(None), b.is_not(None)), b > a)
        conditions.append(and_(*equal_so_far, greater))
        equal_so_far.append(or_(b == a, and_(a.is_(None), b.is_(None))))
    return or_(*conditions)


def upsert_statement(dialect: str, table: Table, spec: RowSpec) -> Any:
    insert = (sqlite_insert if dialect == "sqlite" else pg_insert)(table).values(
        {col: bindparam(col) for col in spec.columns()}
    )
    if spec.insert_only:
        return insert.on_conflict_do_nothing(index_elements=list(spec.key))
    old, new = table.c, insert.excluded
    newer = _newer(old, new, spec.latest_by) if spec.latest_by else None
    merged: dict[str, Any] = {}
    for col, rule in spec.merges.items():
        a, b = old[col], new[col]
        if rule is Merge.ADD:
            merged[col] = a + b
        elif rule is Merge.MIN:
            merged[col] = case((a.is_(None), b), (b.is_(None), a), (b < a, b), else_=a)
        elif rule is Merge.MAX:
            merged[col] = case((a.is_(None), b), (b.is_(None), a), (b > a, b), else_=a)
        elif rule is Merge.LATEST:
            merged[col] = case((newer, b), else_=a)  # type: ignore[arg-type]
    if not merged:
        return insert.on_conflict_do_nothing(index_elements=list(spec.key))
    return insert.on_conflict_do_update(index_elements=list(spec.key), set_=merged)


@lru_cache(maxsize=16384)
def sqlite_time(value: datetime) -> str:
    """A UTC time as SQLAlchemy stores it in SQLite (so reads and comparisons agree)."""
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


_VALUES = re.compile(r"VALUES \((\$\d+::[^)]*)\)")


def unnest_form(sql: str) -> str:
    """PostgreSQL: `VALUES ($1::VARCHAR, $2::INTEGER)` -> `SELECT * FROM unnest($1::VARCHAR[],
    $2::INTEGER[])`: a whole batch in one statement, one array per column (asyncpg's
    executemany runs the statement once per row: measured 2-3x slower)."""
    match = _VALUES.search(sql)
    if match is None:
        raise RuntimeError(f"not an INSERT ... VALUES statement: {sql[:80]}")
    arrays = ", ".join(f"{p.strip()}[]" for p in match.group(1).split(", "))
    return sql[: match.start()] + f"SELECT * FROM unnest({arrays})" + sql[match.end() :]


class Upsert:
    """One table's merge statement, compiled once: SQLite runs it per row with the
    driver's executemany, PostgreSQL once per batch over column arrays."""

    def __init__(self, dialect: Dialect, table: Table, spec: RowSpec) -> None:
        compiled = upsert_statement(dialect.name, table, spec).compile(dialect=dialect)
        self.sql = compiled.string
        self._arrays = dialect.name == "postgresql"
        if self._arrays:
            self.sql = unnest_form(self.sql)
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        if not set(spec.columns()) <= set(self.names):
            raise RuntimeError(f"{spec.name}: expected positional parameters {spec.columns()}")
        # Columns the spec does not fill take their default on insert (a link's `active`).
        self._defaults = {
            name: table.c[name].default.arg  # type: ignore[union-attr]
            for name in self.names
            if name not in spec.columns()
        }
        only = self.names[0]
        self._pick = itemgetter(*self.names) if len(self.names) > 1 else lambda r: (r[only],)
        # SQLite keeps times as text: which parameters to convert.
        self._times = (
            [i for i, n in enumerate(self.names) if isinstance(table.c[n].type, UTCDateTime)]
            if dialect.name == "sqlite"
            else []
        )

    def params(self, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        if self._defaults:
            rows = [{**self._defaults, **row} for row in rows]
        pick = self._pick
        if not self._times:
            return [pick(row) for row in rows]
        out = []
        for row in rows:
            values = list(pick(row))
            for i in self._times:
                if values[i] is not None:
                    values[i] = sqlite_time(values[i])
            out.append(tuple(values))
        return out

    async def execute(self, conn: AsyncConnection, params: list[tuple[Any, ...]]) -> None:
        if self._arrays:
            columns = tuple(list(column) for column in zip(*params, strict=True))
            await conn.exec_driver_sql(self.sql, columns)
        else:
            await conn.exec_driver_sql(self.sql, params)

    async def run(self, conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
        await self.execute(conn, self.params(rows))


class InList:
    """`SELECT <what> FROM <table> WHERE [<also> AND] <column> IN (<a list>)` with the list as one
    parameter (JSON on SQLite, an array on PostgreSQL): no per-size compilation."""

    def __init__(
        self, dialect: Dialect, what: str, table: str, column: str, also: str = ""
    ) -> None:
        self._sqlite = dialect.name == "sqlite"
        if self._sqlite:
            where = f"{column} IN (SELECT value FROM json_each(?))"
        else:
            where = f"{column} = ANY($1::varchar[])"
        self.sql = f"SELECT {what} FROM {table} WHERE {also}{where}"

    async def rows(self, conn: AsyncConnection, values: Sequence[str]) -> list[Any]:
        param = json.dumps(list(values)) if self._sqlite else list(values)
        result = await conn.exec_driver_sql(self.sql, (param,))
        return list(result.all())
