"""Versioned, idempotent DDL for the runner's own tables. A released migration is never edited: add one.

Projection tables are created from each projection's own DDL (a projection
whose rows change gets a new version and is rebuilt by a replay).
"""

from __future__ import annotations

from dataclasses import dataclass

from projections.store import Store


@dataclass(frozen=True)
class Migration:
    """One schema step; `sql` may hold several statements separated by `;\\n` and uses {db}."""

    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "projection_checkpoints",
        """
        CREATE TABLE IF NOT EXISTS {db}.projection_checkpoints (
            projection_id LowCardinality(String),
            write_no UInt64,
            kind Enum8('intent' = 1, 'done' = 2),
            first_seq UInt64,
            last_seq UInt64,
            batch_token String,
            layout_seq UInt64 COMMENT 'last FF_LAYOUT sequence the fold had read',
            state String COMMENT 'base64 of the fold state after last_seq (done rows)',
            code_version String,
            written_at DateTime64(3, 'UTC') DEFAULT now64(3)
        ) ENGINE = MergeTree ORDER BY (projection_id, write_no)
        SETTINGS non_replicated_deduplication_window = 100000
        """,
    ),
    Migration(
        2,
        "projection_versions",
        """
        CREATE TABLE IF NOT EXISTS {db}.projection_versions (
            projection_id LowCardinality(String),
            write_no UInt64,
            status Enum8('started' = 1, 'swapped' = 2),
            code_version String,
            layout_versions Array(UInt32) COMMENT 'layout versions the build had read',
            layout_seq UInt64,
            last_seq UInt64,
            built_from_seq UInt64,
            build_uuids Array(String) COMMENT 'UUIDs of the build tables, to tell whether EXCHANGE happened',
            state String COMMENT 'base64 of the build fold state at last_seq',
            written_at DateTime64(3, 'UTC') DEFAULT now64(3)
        ) ENGINE = MergeTree ORDER BY (projection_id, write_no)
        SETTINGS non_replicated_deduplication_window = 100000
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
