"""footfall's tables for a ClickHouse cluster: Replicated*MergeTree tables on every replica, Distributed over them.

The single-node DDL (each projection's `table_ddl`, the runner's migrations) is the source; for a cluster
each of its tables becomes
- `<table>_local ON CLUSTER <cluster>`, the engine's Replicated form on the ZooKeeper/Keeper path
  `/clickhouse/tables/{shard}/<db>/<table>_local` with replica `{replica}` (macros every server defines),
  deduplicating inserts by token over the replicated window (DESIGN.md §4: the runner rebuilds a batch
  with the same insert_deduplication_token, and the replicated log drops the copy), and
- `<table> ON CLUSTER <cluster>`, a Distributed table over the local ones, sharded by store (the runner's
  own tables by projection), so the same rows always go to the same shard.

No ClickHouse server can run on the development machine: tests pin the generated DDL (golden text); the
shared adapter suite (tests/projections/test_store_contract.py) runs against a configured server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from projections.projection import DEDUP_SETTINGS

REPLICATED_DEDUP_SETTINGS = "replicated_deduplication_window = 100000"

_CREATE = re.compile(r"^\s*CREATE TABLE IF NOT EXISTS (?P<db>\w+)\.(?P<table>\w+) \(", re.S)
# The engine clause as footfall writes it: `ENGINE = <Kind>MergeTree[(args)]`, args without nested parentheses
# beyond one level (a column tuple).
_ENGINE = re.compile(r"ENGINE = (?P<kind>\w*MergeTree)(?:\((?P<args>(?:[^()]|\([^()]*\))*)\))?")


class ClusterDdlError(ValueError):
    """A statement the cluster generator does not know how to turn (it names the statement)."""


def check_identifier(kind: str, name: str) -> None:
    """ClusterDdlError unless `name` is a plain identifier (it is written into DDL unquoted)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ClusterDdlError(f"{kind} name must be an identifier ([A-Za-z_][A-Za-z0-9_]*), got {name!r}")


def cluster_tables(statement: str, cluster: str) -> list[str]:
    """The local Replicated table and the Distributed table for one single-node CREATE TABLE (formatted)."""
    check_identifier("cluster", cluster)
    head = _CREATE.match(statement)
    if head is None:
        raise ClusterDdlError(f"not a footfall CREATE TABLE statement: {statement.strip()[:80]!r}")
    db, table = head["db"], head["table"]
    engines = list(_ENGINE.finditer(statement))
    if len(engines) != 1:
        raise ClusterDdlError(f"{db}.{table}: expected one MergeTree-family ENGINE clause, found {len(engines)}")
    engine = engines[0]
    local = f"{table}_local"
    path = f"'/clickhouse/tables/{{shard}}/{db}/{local}', '{{replica}}'"
    args = engine["args"]
    replicated = f"ENGINE = Replicated{engine['kind']}({path}{', ' + args if args else ''})"
    body = statement[: engine.start()] + replicated + statement[engine.end() :]
    body = body.replace(f"{db}.{table} (", f"{db}.{local} ON CLUSTER {cluster} (", 1)
    if DEDUP_SETTINGS in body:
        body = body.replace(DEDUP_SETTINGS, REPLICATED_DEDUP_SETTINGS)
    else:
        body = body.replace("non_replicated_deduplication_window", "replicated_deduplication_window")
    shard = _sharding_key(statement)
    distributed = (
        f"CREATE TABLE IF NOT EXISTS {db}.{table} ON CLUSTER {cluster} AS {db}.{local}\n"
        f"ENGINE = Distributed({cluster}, {db}, {local}, {shard})"
    )
    return [body.strip(), distributed]


def _sharding_key(statement: str) -> str:
    """By store where rows carry one, else by projection (the runner's tables): a rebuilt batch's block
    lands on the shard that holds its first copy, where the replicated dedup window can drop it."""
    for column in ("store_id", "projection_id"):
        if re.search(rf"^\s*{column}\b", statement, re.M):
            return f"cityHash64({column})"
    raise ClusterDdlError(f"no store_id or projection_id column to shard by in: {statement.strip()[:80]!r}")


def cluster_ddl(statements: Iterable[str], cluster: str) -> list[str]:
    """Every statement's cluster tables, in order (see cluster_tables)."""
    return [out for statement in statements for out in cluster_tables(statement, cluster)]


def footfall_statements(db: str = "footfall") -> list[str]:
    """Every CREATE TABLE footfall runs on a single node, formatted for database `db`: the runner's own
    tables (migrations), then each projection's, by projection name."""
    from projections.migrations import MIGRATIONS
    from projections.registry import PROJECTIONS, make

    check_identifier("database", db)
    out = [
        statement.strip()
        for migration in MIGRATIONS
        for statement in migration.sql.format(db=db).split(";\n")
        if statement.strip()
    ]
    for name in sorted(PROJECTIONS):
        for table, ddl in sorted(make(name).table_ddl().items()):
            out.append(ddl.format(db=db, table=table).strip())
    return out
