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
from projections.store import VALUES_MAX_ROWS, ChdbStore, Store, StoreError, StoreLocked, values_sql
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
    with pytest.raises(StoreError) as error:  # the message names ValuesBlockInputFormat: not a lock error
        any_store.execute(f"INSERT INTO {any_store.database}.t VALUES (1, 'a' 'b')")
    assert not isinstance(error.value, StoreLocked)


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


def test_small_and_large_inserts_store_the_same_values(any_store: Store) -> None:
    """chDB sends up to VALUES_MAX_ROWS rows as literals and more through Python(): both must store the same."""
    any_store.execute(
        f"CREATE TABLE {any_store.database}.w (k UInt64, s LowCardinality(String), t DateTime('UTC'), "
        "e Enum8('intent' = 1, 'done' = 2), n Int32) ENGINE = MergeTree ORDER BY k"
    )
    awkward = ["plain", "it's", "back\\slash", "quote'\\'", "nul\0byte", "línea\nnueva", "", "\\0"]

    def values(first: int, n: int) -> list[tuple[int, str, int, str, int]]:
        return [(first + i, awkward[i % len(awkward)], 1_700_000_000 + i, ("intent", "done")[i % 2], (-1) ** i * i)
                for i in range(n)]  # fmt: skip

    def table(rows: list[tuple[int, str, int, str, int]]) -> pa.Table:
        k, s, t, e, n = zip(*rows, strict=True)
        return pa.table({"k": pa.array(k, pa.uint64()), "s": s, "t": pa.array(t, pa.timestamp("s", tz="UTC")),
                         "e": e, "n": pa.array(n, pa.int32())})  # fmt: skip

    small, large = values(0, len(awkward)), values(10_000, VALUES_MAX_ROWS + 1)
    assert values_sql(table(small)) is not None, "the small batch must take the VALUES path, or this proves nothing"
    any_store.insert(SealedBatch("contract", "w", 1, 1, table(small)))
    any_store.insert(SealedBatch("contract", "w", 2, 2, table(large)))
    got = any_store.query_rows(
        f"SELECT k, s, toUnixTimestamp(t), toString(e), n FROM {any_store.database}.w ORDER BY k"
    )
    assert [(int(k), s, int(t), e, int(n)) for k, s, t, e, n in got] == small + large


def test_values_sql_leaves_floats_and_nulls_to_python() -> None:
    assert values_sql(pa.table({"x": [1.5]})) is None
    assert values_sql(pa.table({"k": pa.array([1, None], pa.int64())})) is None
    assert values_sql(pa.table({"k": [1], "s": ["a'b"]})) == "(1, 'a\\'b')"
