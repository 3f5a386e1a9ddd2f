"""The cluster DDL (projections.cluster_ddl, `footfall schemas ddl`): pinned as golden text, every statement
parsed by the engine, and the replicated dedup window on every local table.

No ClickHouse cluster runs here; a change to this text is a change to what a cluster gets, so the golden
file is rewritten on purpose:
    footfall schemas ddl --cluster footfall_cluster > tests/projections/data/cluster_ddl.sql
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ops.bench.serve import footfall_command, footfall_env
from projections.cluster_ddl import ClusterDdlError, cluster_ddl, cluster_tables, footfall_statements
from projections.registry import PROJECTIONS, make
from projections.store import ChdbStore

GOLDEN = Path(__file__).parent / "data" / "cluster_ddl.sql"


def test_the_command_prints_the_golden_ddl() -> None:
    out = subprocess.run(footfall_command("schemas", "ddl", "--cluster", "footfall_cluster"), env=footfall_env(),
                         capture_output=True, text=True, timeout=120, check=True).stdout  # fmt: skip
    assert out == GOLDEN.read_text()


def test_every_table_is_replicated_deduplicated_and_distributed(store: ChdbStore) -> None:
    statements = cluster_ddl(footfall_statements(), "ff")
    tables = {t for name in PROJECTIONS for t in make(name).table_ddl()} | {"projection_checkpoints",
                                                                            "projection_versions"}  # fmt: skip
    local = [s for s in statements if "_local ON CLUSTER ff (" in s]
    distributed = [s for s in statements if "ENGINE = Distributed(ff, footfall, " in s]
    assert len(local) == len(distributed) == len(tables)
    for s in local:
        assert "ENGINE = Replicated" in s and "replicated_deduplication_window = 100000" in s
        assert "non_replicated" not in s
    assert {s.split("footfall.", 1)[1].split(" ", 1)[0] for s in distributed} == tables
    for s in statements:  # the engine's own parser reads each one back
        assert store.query_rows(f"SELECT formatQuerySingleLine({_quoted(s)})")[0][0].startswith("CREATE TABLE")


def test_engine_arguments_follow_the_replication_path() -> None:
    (local, dist) = cluster_tables(make("line_counts").table_ddl()["line_counts"].format(db="d", table="t"), "c")
    assert (
        "ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/d/t_local', '{replica}', (entries, " in local
    )
    assert dist.endswith("ENGINE = Distributed(c, d, t_local, cityHash64(store_id))")


@pytest.mark.parametrize(
    ("statement", "cluster", "named"),
    [
        ("CREATE TABLE IF NOT EXISTS d.t (store_id String) ENGINE = MergeTree ORDER BY store_id", "a b", "cluster"),
        ("CREATE VIEW d.v AS SELECT 1", "c", "not a footfall CREATE TABLE"),
        ("CREATE TABLE IF NOT EXISTS d.t (x UInt8) ENGINE = Memory", "c", "MergeTree-family ENGINE"),
        ("CREATE TABLE IF NOT EXISTS d.t (x UInt8) ENGINE = MergeTree ORDER BY x", "c", "no store_id"),
    ],
)
def test_what_it_cannot_turn_is_refused_by_name(statement: str, cluster: str, named: str) -> None:
    with pytest.raises(ClusterDdlError, match=named):
        cluster_tables(statement, cluster)


def _quoted(sql: str) -> str:
    return "'" + sql.replace("\\", "\\\\").replace("'", "\\'") + "'"
