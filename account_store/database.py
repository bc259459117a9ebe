"""Where the store lives: the database URL, the engine, the token keys, migrations.

Settings (README: The account store):

| variable | default | meaning |
|---|---|---|
| `DATABASE_URL` | `sqlite:///.data/accounts.db` | `postgresql://user:pass@host/db` in production |
| `TIKTOK_DATA_DIR` | `.data` | where the default SQLite file (and its key file) live |
| `TIKTOK_TOKEN_KEYS` | a generated key file beside the SQLite file | `id2:base64,id1:base64` |

Why synchronous SQLAlchemy run in threads, not its asyncio extension: the CLI and Alembic are
synchronous anyway, SQLite needs no extra driver that way, and every statement here is a
short primary-key read or write; the one long wait (the refresh lock) polls with a
non-blocking try-lock, so no thread is ever parked on a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from account_store.keyring import KeyRing, KeyRingError
from worker.config import ConfigError
from worker.settings import Settings, load_settings

T = TypeVar("T")
DEFAULT_DATA_DIR = ".data"
MIGRATIONS = Path(__file__).parent / "migrations"


class StoreConfigError(ConfigError):
    """A store setting is missing or wrong; the message names it."""


def normalise_url(url: str) -> str:
    """postgres:// and postgresql:// use psycopg 3 (the driver this project installs)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass
class Database:
    """An engine, a session factory and the key ring: what every store part shares."""

    url: str
    engine: Engine
    keys: KeyRing = field(repr=False)
    sessions: sessionmaker[Session] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def sqlite_path(self) -> Path | None:
        return sqlite_file(self.engine)

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one transaction in a worker thread; committed before returning."""
        return await asyncio.to_thread(self.run_sync, work)

    def run_sync(self, work: Callable[[Session], T]) -> T:
        with self.sessions.begin() as session:
            return work(session)

    def upgrade(self) -> None:
        """Apply every Alembic migration not yet applied (idempotent, safe to run from
        several processes at once: they take turns)."""
        with self._migration_lock(), self.engine.begin() as conn:
            if self.is_postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(727473)"))
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        path = self.sqlite_path
        if path is None:
            yield
            return
        with open(path.with_name(path.name + ".migrate.lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def default_url(data_dir: str = DEFAULT_DATA_DIR) -> str:
    return f"sqlite:///{Path(data_dir or DEFAULT_DATA_DIR) / 'accounts.db'}"


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            # WAL lets readers and one writer work at once across processes; FULL makes a
            # commit durable (fsynced) before it returns, which save() promises.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def load_keys(spec: str, sqlite_path: Path | None) -> KeyRing:
    """The token keys: TIKTOK_TOKEN_KEYS when set (`spec`), else the default SQLite file's."""
    spec = spec.strip()
    if spec:
        try:
            return KeyRing.parse(spec)
        except KeyRingError as err:
            raise StoreConfigError(str(err)) from None
    if sqlite_path is None:
        raise StoreConfigError(
            "TIKTOK_TOKEN_KEYS is not set: tokens are encrypted at rest and a shared database "
            "needs its key from the environment (generate one with `tiktok-publisher db "
            "generate-key`)"
        )
    # One host, the default SQLite file: a key of its own beside it, created once.
    key_file = sqlite_path.with_name(sqlite_path.name + ".keys")
    if not key_file.exists():
        sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(KeyRing.generate_spec("local1") + "\n")
    try:
        return KeyRing.parse(key_file.read_text().strip(), setting=str(key_file))
    except KeyRingError as err:
        raise StoreConfigError(str(err)) from None


def open_database(
    env: Mapping[str, str] | None = None,
    *,
    url: str | None = None,
    migrate: bool = True,
    settings: Settings | None = None,
) -> Database:
    """The configured database (DATABASE_URL, TIKTOK_DATA_DIR, TIKTOK_TOKEN_KEYS from the
    settings model, read from `env` unless `settings` is given), migrated to the newest
    schema unless `migrate` is False (`TIKTOK_DB_AUTO_MIGRATE=false` also turns that off:
    then run `tiktok-publisher db upgrade`)."""
    s = settings or load_settings(env)
    raw = url or s.database_url.get_secret_value().strip() or default_url(s.data_dir)
    try:
        engine = make_engine(normalise_url(raw))
    except Exception as err:  # SQLAlchemy raises several kinds for a bad URL
        raise StoreConfigError(f"DATABASE_URL is not usable: {type(err).__name__}") from None
    keys = load_keys(s.token_keys.get_secret_value(), sqlite_file(engine))
    database = Database(url=raw, engine=engine, keys=keys)
    if migrate and s.db_auto_migrate:
        database.upgrade()
    return database


def sqlite_file(engine: Engine) -> Path | None:
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    return Path(database) if database and database != ":memory:" else None


def lock_key(name: str) -> int:
    """A signed 64-bit number naming a lock (PostgreSQL advisory locks take a bigint)."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
