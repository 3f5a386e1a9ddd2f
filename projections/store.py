"""The analytics store seam: one interface, a chDB adapter (embedded default) here.

Driver errors are translated into StoreError so callers never catch a
driver's exception type. chDB allows one data directory per process for the
life of the process, and one process per directory.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
from pathlib import Path
from typing import Any, Protocol

import msgspec
import pyarrow as pa

from projections.batch import SealedBatch

_DB_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class StoreError(RuntimeError):
    """A query or insert failed in the analytics store; the message carries the store's own reason."""


class StoreLocked(StoreError):
    """Another process owns the chDB data directory."""


class Store(Protocol):
    """What projections need from an analytics store."""

    database: str

    def execute(self, sql: str) -> None:
        """Run a statement that returns nothing (DDL, INSERT ... SELECT)."""

    def query_rows(self, sql: str) -> list[list[Any]]:
        """Run a query and return its rows as lists of JSON-compatible values."""

    def query_text(self, sql: str, fmt: str = "PrettyCompactMonoBlock") -> str:
        """Run a query and return its result rendered in a ClickHouse output format."""

    def insert(self, batch: SealedBatch) -> None:
        """Insert a sealed batch; inserting the same batch again (same token) is dropped by ClickHouse."""

    def close(self) -> None:
        """Release the store."""


def insert_settings(batch: SealedBatch) -> dict[str, str | int]:
    """Settings every footfall insert carries: dedup by the batch's token, also into materialized views."""
    return {
        "insert_deduplicate": 1,
        "insert_deduplication_token": batch.token,
        "deduplicate_blocks_in_dependent_materialized_views": 1,
    }


def insert_settings_sql(batch: SealedBatch) -> str:
    """The same settings as a SETTINGS clause (tokens hold only [a-z0-9_:.-], so quoting is safe)."""
    parts = []
    for key, value in insert_settings(batch).items():
        parts.append(f"{key}={value}" if isinstance(value, int) else f"{key}='{value}'")
    return ", ".join(parts)


# Up to this many rows an insert goes to chDB as literal VALUES. Its Python() table function costs about
# 2 ms more per insert, and its threads call back into Python for the rows, so each insert also waits for
# the GIL while the event loop receives. Measured on checkpoint rows: 6-9 ms through Python(), 3 ms as VALUES.
VALUES_MAX_ROWS = 256


def values_sql(rows: pa.Table) -> str | None:
    """The rows as a literal VALUES list, or None unless every column is an integer, a string or a timestamp in
    whole seconds without nulls (floats are left to Python(): a literal would be parsed back by ClickHouse)."""
    texts: list[list[str]] = []
    for field, column in zip(rows.schema, rows.columns, strict=True):
        if column.null_count:
            return None
        kind = field.type
        if pa.types.is_integer(kind):
            texts.append([str(v) for v in column.to_pylist()])
        elif pa.types.is_timestamp(kind) and kind.unit == "s":
            texts.append([str(v) for v in column.cast(pa.int64()).to_pylist()])  # DateTime takes epoch seconds
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            texts.append([_string_literal(v) for v in column.to_pylist()])
        else:
            return None
    return ", ".join(f"({', '.join(row)})" for row in zip(*texts, strict=True))


def _string_literal(value: str) -> str:
    """A ClickHouse string literal: backslash, quote and NUL escaped; everything else stands for itself."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'").replace("\0", "\\0") + "'"


def _check_name(kind: str, name: str) -> None:
    if not _DB_RE.match(name):
        raise StoreError(f"{kind} must match {_DB_RE.pattern}, got {name!r}")


class _JsonCompact(msgspec.Struct):
    data: list[list[Any]]


_json_compact = msgspec.json.Decoder(_JsonCompact)


class ChdbStore:
    """chDB (ClickHouse in-process) at a data directory, with footfall's tables in `database`."""

    def __init__(self, path: Path, database: str = "footfall") -> None:
        _check_name("database", database)
        from chdb import session  # imported here: loading chDB takes a second

        self.path = Path(path)
        self.database = database
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = _lock_directory(self.path)
        self._owner = True
        # One query at a time per session: the runner writes from a worker thread while `footfall sql`
        # is answered on the event loop's.
        self._query_lock = threading.Lock()
        try:
            self._session: Any = session.Session(str(self.path))
        except Exception as exc:  # chDB raises plain RuntimeError/ChdbError subclasses
            _unlock_directory(self._lock_fd)
            raise _translate(exc, self.path) from exc
        self.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
        # Unqualified names in ad-hoc queries (`footfall sql`) resolve to footfall's tables.
        self.execute(f"USE {database}")

    def in_database(self, database: str) -> ChdbStore:
        """Return a store over the same chDB session with its tables in another database.

        chDB allows one data directory per process, so tests share one
        session and isolate themselves by database.
        """
        _check_name("database", database)
        other = object.__new__(ChdbStore)
        other.path, other.database, other._session = self.path, database, self._session
        other._query_lock = self._query_lock
        other._lock_fd = None  # the session and the directory lock stay with the store that opened them
        other._owner = False
        other.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
        return other

    def execute(self, sql: str) -> None:
        self._query(sql, "CSV")

    def query_rows(self, sql: str) -> list[list[Any]]:
        raw = self._query(sql, "JSONCompact")
        if not raw.strip():
            return []
        return _json_compact.decode(raw).data

    def query_text(self, sql: str, fmt: str = "PrettyCompactMonoBlock") -> str:
        return self._query(sql, fmt).decode("utf-8", errors="replace")

    def insert(self, batch: SealedBatch) -> None:
        _check_name("table", batch.table)
        columns = ", ".join(f"`{name}`" for name in batch.rows.column_names)
        head = f"INSERT INTO {self.database}.{batch.table} ({columns}) SETTINGS {insert_settings_sql(batch)}"
        values = values_sql(batch.rows) if 0 < batch.rows.num_rows <= VALUES_MAX_ROWS else None
        if values is not None:
            self._query(f"{head} VALUES {values}", "CSV")
            return
        # chDB's Python() table function reads the local variable by name.
        rows = batch.rows  # noqa: F841 - referenced from SQL below
        self._query(f"{head} SELECT {columns} FROM Python(rows)", "CSV")

    def reader(self, settings: dict[str, str]) -> ChdbReader:
        """A read-only session over the same data: `settings` applied, then `readonly = 1`.

        chDB lets several sessions share a data directory within one process; each has its own settings,
        so the projections keep writing through this store while the reader answers queries. Once
        `readonly = 1` is set the engine refuses every write and DDL statement and every change of a
        setting (the limits and row filters in `settings` included) for the life of the session.
        """
        if not self._owner:
            raise StoreError("a read-only session is opened from the store that opened the directory")
        from chdb import session

        reader = ChdbReader(session.Session(str(self.path)), self.path)
        reader.setup(self.database, settings)
        return reader

    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and self._owner:
            session.close()
        lock_fd, self._lock_fd = self._lock_fd, None
        _unlock_directory(lock_fd)

    def _query(self, sql: str, fmt: str) -> bytes:
        if self._session is None:
            raise StoreError("store is closed")
        try:
            with self._query_lock:
                result = self._session.query(sql, fmt)
        except Exception as exc:
            raise _translate(exc, self.path) from exc
        return bytes(result.bytes())


class ChdbReader:
    """A read-only chDB session (see ChdbStore.reader): queries return raw bytes and the engine's counts."""

    def __init__(self, session: Any, path: Path) -> None:
        self._session = session
        self._path = path
        # chDB keeps a query's parameters on the connection: two threads' queries on one session would
        # see each other's. One query at a time here; concurrency comes from more readers.
        self._lock = threading.Lock()

    def setup(self, database: str, settings: dict[str, str]) -> None:
        self._session.query(f"USE {database}")
        for name, value in settings.items():
            if not _SETTING_RE.match(name):
                raise StoreError(f"setting name {name!r} is not a ClickHouse setting name")
            self._session.query(f"SET {name} = {value}")
        self._session.query("SET readonly = 1")

    def query(self, sql: str, fmt: str, params: dict[str, str] | None = None) -> QueryAnswer:
        """Run one statement; StoreError carries the engine's message (`Code: N. DB::Exception: ...`)."""
        if self._session is None:
            raise StoreError("store is closed")
        try:
            with self._lock:
                result = self._session.query(sql, fmt, params=params or None)
        except Exception as exc:
            raise _translate(exc, self._path) from exc
        return QueryAnswer(bytes(result.bytes()), int(result.rows_read()), int(result.bytes_read()),
                           float(result.elapsed()))  # fmt: skip

    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()


class QueryAnswer(msgspec.Struct, frozen=True):
    """A query's output bytes and what the engine read for it (rows, bytes, seconds)."""

    data: bytes
    read_rows: int
    read_bytes: int
    elapsed_s: float


_SETTING_RE = re.compile(r"^[a-z_][a-z0-9_]*$")

LOCK_FILE = "footfall.lock"


def _lock_directory(path: Path) -> int:
    """Take footfall's exclusive lock on a chDB directory for the life of the store; return its fd.

    chDB's own lock (flock on `<path>/status`) is not always taken (seen with chdb 4.4: a second
    process opened a directory the first still held), and two processes writing one directory
    corrupt it. The lock file names its owner, so the error can say who holds it.
    """
    fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = os.read(fd, 256).decode(errors="replace").strip() or "owner unknown"
        os.close(fd)
        raise StoreLocked(
            f"the chDB directory {path} is in use by another process ({owner}); only one process may "
            "open it: stop that process, or query through it (a running `footfall project` answers "
            "`footfall sql`)"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()}".encode())
    return fd


def _unlock_directory(fd: int | None) -> None:
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _translate(exc: Exception, path: Path) -> StoreError:
    text = str(exc)
    # "lock" as a word: chDB's errors also name formats such as ValuesBlockInputFormat.
    if re.search(r"\block\b", text, re.IGNORECASE) or "already initialized" in text.lower():
        return StoreLocked(
            f"the chDB directory {path} is in use by another process (only one process may open it); "
            f"stop that process or query through it. chDB said: {text.strip()}"
        )
    return StoreError(text.strip())
