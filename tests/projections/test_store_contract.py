"""One suite for every store adapter (DESIGN.md §5): chDB always, a ClickHouse server when configured.

Set FOOTFALL_CLICKHOUSE_URL=http://user:password@host:8123/footfall to run it against a server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pyarrow as pa
import pytest

from projections.batch import SealedBatch
from projections.clickhouse_server import URL_ENV, ClickHouseServerStore
from projections.migrations import migrate
from projections.store import ChdbStore, Store, StoreError
from projections.swap import table_uuid

DDL = (
    "CREATE TABLE IF NOT EXISTS {db}.{table} (k UInt32, v String) ENGINE = MergeTree ORDER BY k "
    "SETTINGS non_replicated_deduplication_window = 1000"
)
ROWS = pa.table({"k": pa.array([1, 2, 3], pa.uint32()), "v": ["a", "b", "c"]})


@pytest.fixture(params=["chdb", "server"])
def any_store(request: pytest.FixtureRequest, chdb_session: ChdbStore) -> Iterator[Store]:
    name = f"contract_{uuid.uuid4().hex[:10]}"
    if request.param == "chdb":
        yield chdb_session.in_database(name)
        return
    if not os.environ.get(URL_ENV):
        pytest.skip(f"no ClickHouse server configured ({URL_ENV} unset); the chDB case covers the adapter seam")
    server = ClickHouseServerStore.from_env(database=name)
    assert server is not None
    try:
        yield server
    finally:
        server.execute(f"DROP DATABASE IF EXISTS {name}")
        server.close()


def test_insert_is_deduplicated_by_token(any_store: Store) -> None:
    any_store.execute(DDL.format(db=any_store.database, table="t"))
    batch = SealedBatch("contract", "t", 1, 3, ROWS)
    any_store.insert(batch)
    any_store.insert(batch)
    assert any_store.query_rows(f"SELECT count(), sum(k) FROM {any_store.database}.t") == [[3, 6]]
    other = SealedBatch("contract", "t", 1, 3, pa.table({"k": pa.array([9], pa.uint32()), "v": ["z"]}))
    any_store.insert(other)  # same range, other rows: another token, so it is not silently dropped
    assert any_store.query_rows(f"SELECT count() FROM {any_store.database}.t") == [[4]]


def test_query_text_and_errors(any_store: Store) -> None:
    any_store.execute(DDL.format(db=any_store.database, table="t"))
    any_store.insert(SealedBatch("contract", "t", 1, 3, ROWS))
    assert any_store.query_text(f"SELECT v FROM {any_store.database}.t ORDER BY k", "CSV").split() == [
        '"a"',
        '"b"',
        '"c"',
    ]
    with pytest.raises(StoreError):
        any_store.query_rows(f"SELECT nope FROM {any_store.database}.t")


def test_migrations_and_exchange(any_store: Store) -> None:
    assert len(migrate(any_store)) >= 2
    assert migrate(any_store) == []
    db = any_store.database
    for table in ("a", "b"):
        any_store.execute(DDL.format(db=db, table=table))
    any_store.insert(SealedBatch("contract", "a", 1, 3, ROWS))
    uuid_a = table_uuid(any_store, "a")
    any_store.execute(f"EXCHANGE TABLES {db}.a AND {db}.b")
    assert table_uuid(any_store, "b") == uuid_a
    assert any_store.query_rows(f"SELECT count() FROM {db}.b") == [[3]]


def test_server_url_errors_name_the_problem() -> None:
    with pytest.raises(StoreError, match="scheme"):
        ClickHouseServerStore.from_url("ftp://host/db")
