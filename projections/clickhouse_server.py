"""The production adapter: a ClickHouse server or cluster through clickhouse-connect.

Runs the same DDL and queries as the chDB adapter; the shared suite in
tests/projections/test_store_contract.py runs against it when
FOOTFALL_CLICKHOUSE_URL is set (e.g. http://default:secret@localhost:8123/footfall).
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

from projections.batch import SealedBatch
from projections.store import StoreError, _check_name, insert_settings

URL_ENV = "FOOTFALL_CLICKHOUSE_URL"


class ClickHouseServerStore:
    """footfall's tables in `database` on a ClickHouse server (HTTP interface)."""

    def __init__(
        self, host: str, port: int = 8123, *, username: str = "default", password: str = "", database: str = "footfall",
        secure: bool = False,
    ) -> None:  # fmt: skip
        import clickhouse_connect
        from clickhouse_connect.driver.exceptions import ClickHouseError

        _check_name("database", database)
        self.database = database
        self._errors: tuple[type[BaseException], ...] = (ClickHouseError,)
        try:
            self._client: Any = clickhouse_connect.get_client(
                host=host, port=port, username=username, password=password, secure=secure
            )
        except ClickHouseError as exc:
            # The password never reaches the message: only host and port.
            raise StoreError(f"cannot connect to ClickHouse at {host}:{port}: {exc}") from exc
        self.execute(f"CREATE DATABASE IF NOT EXISTS {database}")

    @classmethod
    def from_url(cls, url: str, database: str | None = None) -> ClickHouseServerStore:
        """Connect from `http[s]://user:password@host:port/database`."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StoreError(f"ClickHouse URL must look like http://user:password@host:8123/db, got scheme "
                             f"{parts.scheme!r} host {parts.hostname!r}")  # fmt: skip
        return cls(
            parts.hostname,
            parts.port or (8443 if parts.scheme == "https" else 8123),
            username=urllib.parse.unquote(parts.username or "default"),
            password=urllib.parse.unquote(parts.password or ""),
            database=database or parts.path.strip("/") or "footfall",
            secure=parts.scheme == "https",
        )

    @classmethod
    def from_env(cls, database: str | None = None) -> ClickHouseServerStore | None:
        """Connect from $FOOTFALL_CLICKHOUSE_URL, or return None when it is not set."""
        url = os.environ.get(URL_ENV)
        return cls.from_url(url, database) if url else None

    def in_database(self, database: str) -> ClickHouseServerStore:
        """Return a store over the same client with its tables in another database."""
        _check_name("database", database)
        other = object.__new__(ClickHouseServerStore)
        other.database, other._client, other._errors = database, self._client, self._errors
        other.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
        return other

    def execute(self, sql: str) -> None:
        try:
            self._client.command(sql)
        except self._errors as exc:
            raise StoreError(str(exc).strip()) from exc

    def query_rows(self, sql: str) -> list[list[Any]]:
        try:
            result = self._client.query(sql)
        except self._errors as exc:
            raise StoreError(str(exc).strip()) from exc
        return [list(row) for row in result.result_rows]

    def query_text(self, sql: str, fmt: str = "PrettyCompactMonoBlock") -> str:
        try:
            raw = self._client.raw_query(sql, fmt=fmt)
        except self._errors as exc:
            raise StoreError(str(exc).strip()) from exc
        return bytes(raw).decode("utf-8", errors="replace")

    def insert(self, batch: SealedBatch) -> None:
        _check_name("table", batch.table)
        try:
            self._client.insert_arrow(batch.table, batch.rows, database=self.database, settings=insert_settings(batch))
        except self._errors as exc:
            raise StoreError(str(exc).strip()) from exc

    def close(self) -> None:
        self._client.close()
