"""Core statements run straight on the driver, inside a session's transaction.

SQLAlchemy's execution of a compiled statement (execution context, parameter construction,
events, result object) costs tens of microseconds a statement: most of the time of the short
statements of a notebook write. Here a statement is compiled once per dialect, with the bind
and result processors of its types, and then runs on the DBAPI cursor of the transaction's
connection: the same SQL, the same conversions, the same transaction, without the machinery.

Only statements whose values all come from the caller qualify: one that would need SQLAlchemy
to compute a default, or expand an ``IN`` list, is refused when first prepared.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import Select
from sqlmodel import Session

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A statement compiled for one dialect, with the conversions of its values."""

    sql: str
    #: Parameter names in the order of a positional paramstyle, or None for named ones.
    positions: tuple[str, ...] | None
    binds: tuple[tuple[str, Processor], ...]
    results: tuple[Processor | None, ...]

    def arguments(self, parameters: Mapping[str, Any]) -> Any:
        """The driver's arguments for ``parameters``."""
        if self.binds:
            values = dict(parameters)
            for name, process in self.binds:
                values[name] = process(values[name])
            parameters = values
        if self.positions is None:
            return parameters
        return tuple(parameters[name] for name in self.positions)

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        if not self.results:
            return tuple(raw)
        return tuple(
            value if process is None else process(value)
            for value, process in zip(raw, self.results, strict=True)
        )


_PREPARED: dict[tuple[ClauseElement, tuple[str, ...], str, str], Prepared] = {}


def prepare(statement: ClauseElement, keys: Sequence[str], dialect: Dialect) -> Prepared:
    """``statement`` compiled for ``dialect`` and the parameter ``keys`` (cached)."""
    cache_key = (statement, tuple(keys), dialect.name, dialect.paramstyle)
    found = _PREPARED.get(cache_key)
    if found is not None:
        return found
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    assert isinstance(compiled, SQLCompiler)
    if compiled.insert_prefetch or compiled.update_prefetch or compiled.literal_execute_params:
        raise ValueError("a statement run on the driver must receive every value from its caller")
    if any(bind.expanding for bind in compiled.binds.values()):
        raise ValueError("a statement run on the driver cannot expand a list of values")
    binds = []
    for name, bind in compiled.binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            binds.append((name, process))
    results: tuple[Processor | None, ...] = ()
    if isinstance(statement, Select):
        results = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        )
        if not any(results):
            results = ()
    positions = compiled.positiontup
    found = Prepared(
        sql=compiled.string,
        positions=tuple(positions) if positions is not None and dialect.positional else None,
        binds=tuple(binds),
        results=results,
    )
    _PREPARED[cache_key] = found
    return found


#: Key of ``Session.info`` naming the connection whose transaction a session joined (the write
#: sessions of :meth:`Database.write`).
CONNECTION = "carnet_connection"


def _connection(holder: Session | Connection) -> Connection:
    """The connection of a session's transaction, or the connection itself."""
    if isinstance(holder, Connection):
        return holder
    joined: Connection | None = holder.info.get(CONNECTION)
    return holder.connection() if joined is None else joined


def fetch(
    session: Session, statement: ClauseElement, parameters: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """The rows of ``statement`` run in the session's transaction."""
    connection = _connection(session)
    prepared = prepare(statement, tuple(parameters), connection.dialect)
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(prepared.sql, prepared.arguments(parameters))
        return [prepared.row(raw) for raw in cursor.fetchall()]
    finally:
        cursor.close()


def run(session: Session, statement: ClauseElement, parameters: Mapping[str, Any]) -> int:
    """Run ``statement`` in the session's transaction: the number of rows it touched."""
    connection = _connection(session)
    prepared = prepare(statement, tuple(parameters), connection.dialect)
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(prepared.sql, prepared.arguments(parameters))
        count: int = cursor.rowcount
        return count
    finally:
        cursor.close()


def run_many(
    holder: Session | Connection, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Run ``statement`` once per row of ``rows`` (same keys in every row), in one call, in
    the transaction of a session or of a connection."""
    if not rows:
        return
    connection = _connection(holder)
    prepared = prepare(statement, tuple(rows[0]), connection.dialect)
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(prepared.sql, [prepared.arguments(row) for row in rows])
    finally:
        cursor.close()


def json_list(value: Any) -> tuple[str, ...]:
    """A JSON list column read by a text() query or straight from the driver (SQLite hands
    over its text)."""
    return tuple(orjson.loads(value) if isinstance(value, str | bytes) else value)
