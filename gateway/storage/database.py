"""Engines, sessions and migrations, for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, TextClause, create_engine, event, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from gateway.storage import driver

if TYPE_CHECKING:
    from gateway.sealing import Keyring

MIGRATIONS = Path(__file__).parent / "migrations"
#: How long a SQLite writer waits for another process's write lock.
BUSY_TIMEOUT_MS = 30_000
#: WAL pages past which a SQLite writer checkpoints itself (SQLite's default is 1,000; a
#: server's checkpoint thread keeps the WAL well below this).
WRITER_CHECKPOINT_PAGES = 10_000
#: How often :class:`Checkpoints` copies the WAL into the database file.
CHECKPOINT_SECONDS = 0.5
_ON_COMMIT = "carnet_on_commit"


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL, foreign keys and explicit write locks."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        pool: dict[str, Any] = {}
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            pool = {"pool_size": 20, "max_overflow": 20}
        engine = create_engine(
            url,
            json_serializer=_json_dumps,
            json_deserializer=orjson.loads,
            connect_args={"check_same_thread": False, "timeout": 30},
            **pool,
        )
        _sqlite_transactions(engine)
        return engine
    return create_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        pool_size=20,
        max_overflow=10,
        pool_pre_ping=True,
    )


def _sqlite_transactions(engine: Engine) -> None:
    """Let SQLite transactions begin when SQLAlchemy begins them, writers with BEGIN IMMEDIATE.

    pysqlite's own implicit BEGIN is turned off, so that a write transaction takes the write lock
    at its start (no lock upgrade deadlock between two writers) and reads stay concurrent (WAL).
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # A server checkpoints on a thread of its own (Checkpoints); a writer checkpoints
        # only when the WAL outgrows that (a process without one, such as the CLI).
        cursor.execute(f"PRAGMA wal_autocheckpoint={WRITER_CHECKPOINT_PAGES}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get("carnet_single_statement"):
            return  # one SELECT is consistent by itself: no transaction round trips
        # Straight on the driver: these statements return nothing, and SQLAlchemy's execution
        # of each would cost more than SQLite's.
        driver = connection.connection.dbapi_connection
        if not options.get("carnet_write"):
            driver.execute("BEGIN")
        elif options.get("carnet_nowait"):
            # A writer that must not block (the event loop's) does not wait for another
            # process's write lock either: SQLite answers "database is locked" at once.
            driver.execute("PRAGMA busy_timeout=0")
            try:
                _begin_immediate(driver)
            finally:
                driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        else:
            _begin_immediate(driver)


def _begin_immediate(connection: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE; a failure raised as SQLAlchemy raises the driver's errors."""
    try:
        connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        raise OperationalError("BEGIN IMMEDIATE", None, error) from error


@cache
def _insert_of(table: Any) -> Any:
    """One INSERT statement per table (the driver's compiled statements are kept by statement)."""
    return insert(table)


#: Idle connections kept for :meth:`Database.fetch_one` (it runs to completion on one thread:
#: one per thread reading at the same time).
_KEPT_READERS = 4


def _first_row(connection: Any, sql: str, arguments: Any) -> list[tuple[Any, ...]]:
    cursor = connection.cursor()
    try:
        cursor.execute(sql, arguments)
        row = cursor.fetchone()
    finally:
        cursor.close()
    return [tuple(row)] if row is not None else []


def _all_rows(connection: Any, sql: str, arguments: Any) -> list[tuple[Any, ...]]:
    cursor = connection.cursor()
    try:
        cursor.execute(sql, arguments)
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


def _left_in_transaction(connection: Connection) -> bool:
    """Whether a connection's transaction is still open, for SQLAlchemy or for the driver."""
    if connection.in_transaction():
        return True
    driver_connection = connection.connection.dbapi_connection
    return driver_connection is None or bool(driver_connection.in_transaction)


class Checkpoints:
    """Checkpoints of a SQLite WAL on a thread of their own.

    A writer that checkpoints copies the WAL into the database file and syncs it inside its
    commit: with notebooks of tens of kilobytes, a checkpoint every few dozen writes, and a
    third of the writes' time. This thread checkpoints every half second instead (PASSIVE: it
    never waits for, nor blocks, readers and writers), with the interpreter lock released
    during the I/O.
    """

    def __init__(self, path: str, interval: float = CHECKPOINT_SECONDS) -> None:
        self.path = path
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="carnet-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after a last checkpoint."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(self.interval):
                self._checkpoint(connection)
            self._checkpoint(connection)
        finally:
            connection.close()

    @staticmethod
    def _checkpoint(connection: sqlite3.Connection) -> None:
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            # A busy or unreadable database now: the next turn, or a writer past
            # WRITER_CHECKPOINT_PAGES, checkpoints instead.
            return


class WriterBusy(Exception):
    """Another write transaction of this process is running (``write(wait=False)``)."""


class _NoLock:
    """The writers' mutex where the server serialises writers itself (PostgreSQL)."""

    def acquire(self, blocking: bool = True) -> bool:
        return True

    def release(self) -> None:
        return None


def _default_keyring() -> Keyring:
    """The keys of the settings (CARNET_CLES_SECRETS or the key file)."""
    from gateway.sealing import keyring
    from gateway.settings import Settings

    return keyring(Settings())


class Database:
    """One engine and its sessions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self._sessions = sessionmaker(self.engine, class_=Session, expire_on_commit=False)
        self._statements: dict[TextClause, tuple[str, tuple[str, ...] | None]] = {}
        self._writers: Any = threading.Lock() if self.dialect == "sqlite" else _NoLock()
        #: Whether a short write may run on the event loop's thread (an in-process database).
        self.embedded = self.dialect == "sqlite"
        #: Idle connections of :meth:`fetch_one`, kept out of the pool (a list: its pop and
        #: append are atomic, so threads share it without a lock).
        self._readers: list[Any] = []
        #: The connection of :meth:`insert_rows` on SQLite, kept out of the pool.
        self._inserter: Any = None
        #: The connection of :meth:`write` on SQLite (see :meth:`_writer`).
        self._kept_writer: Connection | None = None
        dbapi = self.engine.dialect.loaded_dbapi
        self._dbapi_errors = (dbapi.OperationalError, dbapi.InterfaceError)

    @property
    def file(self) -> Path | None:
        """The file of an embedded database (None for a server or an in-memory one)."""
        database = make_url(self.url).database
        if self.dialect != "sqlite" or not database or database == ":memory:":
            return None
        return Path(database)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session."""
        with self._sessions() as session:
            yield session

    def fetch_one(
        self, statement: TextClause, parameters: dict[str, Any]
    ) -> tuple[Any, ...] | None:
        """The first row of one read-only statement, straight from the driver.

        The hot read paths use this: the statement is compiled once for the engine's dialect
        and runs on a DBAPI connection kept for such reads, in autocommit (one statement is
        consistent by itself), without SQLAlchemy's per-execution machinery or its pool's
        checkout, checkin and ping (half of a notebook read otherwise). Columns come back as
        the driver gives them.
        """
        rows = self._on_reader(statement, parameters, _first_row)
        return rows[0] if rows else None

    def fetch_all(self, statement: TextClause, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Every row of one read-only statement, straight from the driver (as
        :meth:`fetch_one`)."""
        return self._on_reader(statement, parameters, _all_rows)

    def _on_reader(
        self,
        statement: TextClause,
        parameters: dict[str, Any],
        rows: Callable[[Any, str, Any], list[tuple[Any, ...]]],
    ) -> list[tuple[Any, ...]]:
        """``rows`` of ``statement`` run on a kept reading connection (see :meth:`fetch_one`)."""
        sql, names = self._compiled(statement)
        arguments = parameters if names is None else tuple(parameters[name] for name in names)
        try:
            connection, kept = self._readers.pop(), True
        except IndexError:
            connection, kept = self._reader(), False
        try:
            found = rows(connection, sql, arguments)
        except self._dbapi_errors:
            # A kept connection may have been closed by the server meanwhile: one more try on
            # a fresh one (a statement that fails by itself fails again, and is raised).
            connection.invalidate()
            if not kept:
                raise
            connection = self._reader()
            try:
                found = rows(connection, sql, arguments)
            except BaseException:
                connection.invalidate()
                raise
        except BaseException:
            connection.invalidate()
            raise
        if len(self._readers) < _KEPT_READERS:
            self._readers.append(connection)
        else:
            self._release(connection)
        return found

    def _reader(self) -> Any:
        """A pooled connection for :meth:`fetch_one`, in autocommit."""
        connection = self.engine.raw_connection()
        if self.dialect == "postgresql":
            connection.dbapi_connection.autocommit = True  # type: ignore[union-attr]
        return connection

    def _release(self, connection: Any) -> None:
        """Give a connection of :meth:`fetch_one` back to the pool."""
        if self.dialect == "postgresql":
            connection.dbapi_connection.autocommit = False
        connection.close()

    def _compiled(self, statement: TextClause) -> tuple[str, tuple[str, ...] | None]:
        """SQL text in the driver's parameter style, and the order of positional parameters."""
        found = self._statements.get(statement)
        if found is None:
            compiled = statement.compile(dialect=self.engine.dialect)
            positions = compiled.positiontup
            found = (str(compiled), tuple(positions) if positions else None)
            self._statements[statement] = found
        return found

    @contextmanager
    def write(self, *, wait: bool = True) -> Iterator[Session]:
        """A write transaction, committed when the block ends without an exception.

        On SQLite, the writers of this process queue on a mutex before BEGIN IMMEDIATE: SQLite
        makes a blocked writer sleep and poll (its busy handler), which collapses throughput
        when many writers wait; a mutex hands the lock over at once. Other processes still
        wait through the busy timeout. With ``wait=False``, :class:`WriterBusy` is raised at
        once instead of queueing, for another writer of this process or another process's
        write lock alike (for callers that must not block, such as the event loop).

        The transaction is the connection's: the session joins it, and begins its own
        bookkeeping only when used for ORM work (the statements of :mod:`driver` run on the
        connection directly: an eighth of the cost of a session's transaction). Its ORM work is
        flushed before the connection commits.
        """
        if not self._writers.acquire(blocking=wait):
            raise WriterBusy()
        try:
            with self._writer() as connection:
                connection = connection.execution_options(carnet_write=True, carnet_nowait=not wait)
                try:
                    # BEGIN IMMEDIATE on SQLite.
                    transaction = connection.begin()
                except OperationalError as error:
                    raise self._busy(error, not wait) from error
                session = Session(
                    bind=connection,
                    join_transaction_mode="rollback_only",
                    expire_on_commit=False,
                    info={driver.CONNECTION: connection},
                )
                try:
                    yield session
                    if session.in_transaction():
                        session.commit()  # flushes; the connection's transaction goes on
                except BaseException:
                    session.close()
                    if transaction.is_active:  # a failed flush has rolled it back already
                        transaction.rollback()
                    raise
                session.close()
                transaction.commit()
                for callback in session.info.pop(_ON_COMMIT, ()):
                    callback()
        finally:
            self._writers.release()

    @contextmanager
    def _writer(self) -> Iterator[Connection]:
        """The connection of a write transaction. On SQLite, whose writers take turns on the
        mutex, one connection kept for them (the pool's checkout and its reset on return cost
        a tenth of a short write): SQLAlchemy reconnects it by itself once invalidated (a
        driver connection found closed), and it is dropped if a failure leaves its driver
        connection inside a transaction (a rollback that failed). A pooled one otherwise."""
        if self.dialect != "sqlite":
            with self.engine.connect() as connection:
                yield connection
            return
        if self._kept_writer is None:
            self._kept_writer = self.engine.connect()
        connection = self._kept_writer
        try:
            yield connection
        except BaseException:
            if connection.invalidated or _left_in_transaction(connection):
                self._kept_writer = None
                connection.close()
            raise

    def _busy(self, error: OperationalError, bounded: bool) -> Exception:
        """What a failed BEGIN raises: :class:`WriterBusy` for a writer that does not wait (or
        not long) when another process holds SQLite's write lock, the error itself otherwise."""
        if bounded and self.dialect == "sqlite" and "locked" in str(error.orig):
            return WriterBusy()
        return error

    def insert_rows(
        self, table: Any, rows: list[dict[str, Any]], *, wait: bool | float = True
    ) -> None:
        """Insert ``rows`` into ``table`` in one write transaction, without an ORM session (the
        access journal's group commits).

        On SQLite the transaction runs on the driver of a connection kept for these inserts
        (the writers' mutex serialises them): SQLAlchemy's connection and transaction objects
        cost a third of a journaled read's group commit.
        """
        if not rows:
            return
        acquired = (
            self._writers.acquire(timeout=wait)
            if not isinstance(wait, bool)
            else self._writers.acquire(blocking=wait)
        )
        if not acquired:
            raise WriterBusy()
        try:
            if self.dialect == "sqlite":
                self._insert_on_driver(table, rows, wait)
                return
            with self.engine.connect() as connection:
                nowait = wait is False
                connection = connection.execution_options(carnet_write=True, carnet_nowait=nowait)
                try:
                    transaction = connection.begin()
                except OperationalError as error:
                    raise self._busy(error, nowait) from error
                with transaction:
                    driver.run_many(connection, _insert_of(table), rows)
        finally:
            self._writers.release()

    def _insert_on_driver(self, table: Any, rows: list[dict[str, Any]], wait: bool | float) -> None:
        prepared = driver.prepare(_insert_of(table), tuple(rows[0]), self.engine.dialect)
        if self._inserter is None:
            self._inserter = self.engine.raw_connection()
        connection: sqlite3.Connection = self._inserter.dbapi_connection
        try:
            if wait is True:
                _begin_immediate(connection)
            else:
                # Not waiting (or not long) for another process's write lock either.
                connection.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
                try:
                    _begin_immediate(connection)
                finally:
                    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        except OperationalError as error:
            raise self._busy(error, wait is not True) from error
        try:
            connection.executemany(prepared.sql, [prepared.arguments(row) for row in rows])
            connection.commit()
        except BaseException:
            connection.rollback()
            raise

    @staticmethod
    def on_commit(session: Session, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the write transaction of ``session`` has committed (never if
        it rolls back)."""
        session.info.setdefault(_ON_COMMIT, []).append(callback)

    def lock(self, session: Session, *keys: str) -> None:
        """Serialise write transactions that name the same keys, until they end.

        PostgreSQL takes transaction-scoped advisory locks (in a stable order, so two
        transactions never wait on each other crosswise); SQLite write transactions are
        already exclusive.
        """
        if self.dialect != "postgresql":
            return
        for key in sorted(set(keys)):
            session.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
            )

    def migrate(self, revision: str = "head", *, keyring: Keyring | None = None) -> None:
        """Apply the migrations up to ``revision`` (creates the database on first run).

        ``keyring`` seals the secrets a migration finds in clear (default: the keys of the
        settings, read only when there is something to seal). Migrations import nothing from
        the application: they are handed a function giving the keyring."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            config.attributes["keyring"] = _default_keyring if keyring is None else lambda: keyring
            command.upgrade(config, revision)

    def checkpoints(self) -> Checkpoints | None:
        """Background checkpoints of an embedded database file (None for others)."""
        found = self.file
        return None if found is None else Checkpoints(str(found))

    def dispose(self) -> None:
        if self._kept_writer is not None:
            self._kept_writer.close()
            self._kept_writer = None
        if self._inserter is not None:
            self._inserter.close()
            self._inserter = None
        while self._readers:
            self._release(self._readers.pop())
        self.engine.dispose()
