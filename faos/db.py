"""Database helpers shared by the apps."""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache

from django.conf import settings
from django.db import connection

# A CTE body, `WITH …, quick AS (QUICK_COMMIT_CTE) SELECT … FROM …, quick`: see commit_without_waiting.
QUICK_COMMIT_CTE = "SELECT set_config('synchronous_commit', 'off', true)"


def commit_without_waiting() -> None:
    """Let the current transaction's commit return before its WAL reaches the disk (PostgreSQL only).

    Only for transactions whose loss in a database crash is recovered by design: a step claim (the lease runs out
    and the same attempt runs again) and an outbox delivery (the row stays unsent and the sweep delivers it). Run
    starts and step completions keep waiting for the disk. The database stays consistent either way.

    Two forms, one setting: in a transaction, call this (SET LOCAL). A single statement run in autocommit (the
    one-statement step claim) has no transaction to SET LOCAL in, so it embeds QUICK_COMMIT_CTE instead:
    set_config(…, true) is local to the statement's own implicit transaction, exactly as SET LOCAL is.
    """
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def prepared_cursor():
    """A cursor whose statements PostgreSQL parses and plans once per connection (FAOS_DB_PREPARED), else Django's.

    For the few hand-written statements every run and webhook sends: planning them cost more than running them
    (the claim 0.5 ms of planning to 0.2 of execution). A prepared statement runs a generic plan, which cannot
    use a partial index through a parameter: write such a condition's constant into the SQL (`status = 'pending'`).
    Statements go through Django's cursor wrapper as any other (errors, query logging, assertNumQueries).
    """
    if connection.vendor != "postgresql" or not settings.FAOS_DB_PREPARED:
        return connection.cursor()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        cursor, logged = _prepared_classes()
        raw = cursor(connection.connection)
    return logged(raw, connection) if connection.queries_logged else connection.make_cursor(raw)


@lru_cache(maxsize=1)
def _prepared_classes():
    """The psycopg cursor class, and Django's debug wrapper for it (as `connection.queries` and tests see SQL)."""
    from django.db.backends.postgresql.base import CursorDebugWrapper, ServerBindingCursor
    from psycopg import errors

    class LoggedPreparedCursor(CursorDebugWrapper):
        """Logs each statement with its values written in: psycopg keeps no last query of a prepared statement."""

        @contextmanager
        def debug_sql(self, sql=None, params=None, use_last_executed_query=False, many=False):
            shown = sql if many or params is None else self.db.ops.compose_sql(sql, params)
            with super().debug_sql(shown, params, False, many):
                yield

    class PreparedCursor(ServerBindingCursor):
        """Parameters bound by the server, and every statement prepared on its first run."""

        def execute(self, query, params=None, *, prepare=True, **kwargs):
            try:
                return super().execute(query, params, prepare=prepare, **kwargs)
            except errors.FeatureNotSupported:
                # "cached plan must not change result type": a migration changed a column's type under this
                # connection. Forget its prepared statements (psycopg does so itself on a ROLLBACK, but a
                # statement in autocommit has none), so the next run prepares them again.
                self.connection._prepared.clear()
                raise

    return PreparedCursor, LoggedPreparedCursor


# Rows read by hand-written SQL, made into model instances as the ORM makes them (for the hottest reads, where
# compiling a select_related query costs more than running it).


def columns(alias: str, model) -> str:
    """`alias."column", …` for every concrete field of the model, in the order models_from_row reads them."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


@lru_cache(maxsize=64)
def _shape(model, vendor: str) -> tuple[list[str], list[tuple[int, list, object]]]:
    """The model's attnames in field order, and (index, converters, column) where the ORM converts a value: the
    backend's (SQLite's dates, booleans, decimals) and the field's (JSON), as the query compiler applies them."""
    fields, converting = model._meta.concrete_fields, []
    for index, field in enumerate(fields):
        column = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converting.append((index, found, column))
    return [field.attname for field in fields], converting


def models_from_row(row, models) -> list:
    """One instance per model from a row of `columns(…)` blocks in that order; None for a block of NULLs (a LEFT
    JOIN that found nothing)."""
    built, start = [], 0
    for model in models:
        names, converting = _shape(model, connection.vendor)
        values = list(row[start : start + len(names)])
        start += len(names)
        if values[0] is None:  # the primary key comes first
            built.append(None)
            continue
        for index, converters, column in converting:
            for convert in converters:
                values[index] = convert(values[index], column, connection)
        built.append(model.from_db(connection.alias, names, values))
    return built
