"""Versioned, idempotent DDL for footfall's tables. A migration is never edited once released: add a new one."""

from __future__ import annotations

from dataclasses import dataclass

from projections.store import Store

# Every table the runner writes keeps a dedup window, so a batch re-inserted
# with the same token after a crash is dropped (DESIGN.md §4).
DEDUP = "non_replicated_deduplication_window = 100000"


@dataclass(frozen=True)
class Migration:
    """One schema step; `sql` may hold several statements separated by `;\\n` and uses {db}."""

    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "line_counts",
        f"""
        CREATE TABLE IF NOT EXISTS {{db}}.line_counts (
            store_id LowCardinality(String),
            line_id LowCardinality(String),
            layout_version UInt32,
            bucket_start DateTime('UTC') COMMENT 'start of the 5-minute bucket',
            entries UInt64,
            exits UInt64
        ) ENGINE = SummingMergeTree((entries, exits))
        ORDER BY (store_id, line_id, layout_version, bucket_start)
        SETTINGS {DEDUP}
        """,
    ),
)


def migrate(store: Store) -> list[Migration]:
    """Apply the migrations the store lacks, in order; return those applied (none on a second run)."""
    db = store.database
    store.execute(
        f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations "
        "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = ReplacingMergeTree ORDER BY version"
    )
    done = {int(row[0]) for row in store.query_rows(f"SELECT version FROM {db}.schema_migrations FINAL")}
    applied = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        for statement in migration.sql.format(db=db).split(";\n"):
            if statement.strip():
                store.execute(statement)
        store.execute(
            f"INSERT INTO {db}.schema_migrations (version, name) VALUES ({migration.version}, '{migration.name}')"
        )
        applied.append(migration)
    return applied
