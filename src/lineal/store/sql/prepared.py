"""Statements compiled once per dialect and run on the driver's cursor: the hot paths of the
SQL store (a metric batch, a run's start and end, an alias resolution), where SQLAlchemy's
statement building, compiling and execution context cost more than the database's work."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection

__all__ = ["DriverReads", "Prepared", "run_on_driver"]


class Prepared:
    """A Core statement compiled once per dialect, for the hot paths.

    Building and compiling a Core statement, and SQLAlchemy's execution context around it,
    cost several times what SQLite takes to run it; creating and ending a run is a dozen such
    statements. A ``Prepared`` holds the SQL text for each dialect and the order of its
    parameters, and :meth:`WriteTx.execute` (or :class:`DriverReads` for a read) hands it
    straight to the driver's cursor inside the same transaction. Only for statements without
    expanding (``IN``) parameters.
    """

    def __init__(self, statement: sa.Select[Any] | sa.CompoundSelect[Any] | sa.UpdateBase) -> None:
        self.statement = statement
        self.columns: list[str] = (
            [c.name for c in statement.selected_columns]
            if isinstance(statement, sa.Select) else []
        )
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def compiled(
        self, dialect: sa.Dialect
    ) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        """``(sql, names, fixed)``: ``names`` orders the parameters for a positional driver
        (None for one that takes a mapping); ``fixed`` holds the values of literals in the
        statement (``where id == 1``)."""
        done = self._compiled.get(dialect.name)
        if done is None:
            compiled = self.statement.compile(dialect=dialect)
            order = compiled.positiontup  # set for a positional dialect's compilation
            names = tuple(order) if compiled.positional and order is not None else None
            fixed = {k: v for k, v in compiled.params.items() if v is not None}
            done = self._compiled[dialect.name] = (str(compiled), names, fixed)
        return done

    def arguments(self, dialect: sa.Dialect, params: dict[str, Any] | None) -> tuple[str, Any]:
        """``(sql, args)`` to hand the driver for ``params``."""
        sql, names, fixed = self.compiled(dialect)
        args: Any = {**fixed, **params} if fixed and params else fixed or params or {}
        if names is not None:
            args = tuple([args[n] for n in names])
        return sql, args


def run_on_driver(conn: Connection, cursor: Any, method: str, sql: str, args: Any) -> Any:
    """``cursor.execute``/``executemany`` on a driver cursor of ``conn``; its errors wrapped as
    SQLAlchemy wraps them, so that the store translates them like any other. Returns the
    cursor."""
    error_type = conn.dialect.loaded_dbapi.Error
    try:
        getattr(cursor, method)(sql, args)
    except error_type as error:
        raise exc.DBAPIError.instance(sql, args, error, error_type) from error
    return cursor


class DriverReads:
    """:class:`Prepared` selects on the driver's cursor of one read transaction
    (:meth:`Database.read_prepared <lineal.store.sql.database.Database.read_prepared>`).
    Rows are the driver's tuples, in the order of the statement's columns."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._cursor: Any = None

    def all(self, statement: Prepared, params: dict[str, Any] | None = None) -> list[Any]:
        if self._cursor is None:
            self._cursor = self.conn.connection.cursor()
        sql, args = statement.arguments(self.conn.dialect, params)
        return list(run_on_driver(self.conn, self._cursor, "execute", sql, args).fetchall())
