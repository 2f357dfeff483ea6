"""The database the suite runs on: PostgreSQL in CI and with DATABASE_URL set, SQLite with nothing set."""

import pytest
from django.db import connection

POSTGRESQL = connection.vendor == "postgresql"


def postgresql_only(why: str):
    """Skip on SQLite a test of behaviour only PostgreSQL has (row locks that skip, one-statement claims, xmin)."""
    return pytest.mark.skipif(not POSTGRESQL, reason=f"PostgreSQL only: {why}")
