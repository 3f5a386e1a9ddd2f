"""The table of entries and exits per counting line per 5-minute bucket, and its rows from counts.

Two projections write it: line_counts (crossings found in raw tracks) and
footfall (the zone processor's LineCrossed). Kept apart from both so footfall,
an FF_DERIVED projection, does not load the tracks stream's column code (numba).
"""

from __future__ import annotations

import pyarrow as pa

from projections.projection import DEDUP_SETTINGS

BucketKey = tuple[str, str, int, int]  # store_id, line_id, layout_version, bucket_start_s

DDL = f"""
CREATE TABLE IF NOT EXISTS {{db}}.{{table}} (
    store_id LowCardinality(String),
    line_id LowCardinality(String),
    layout_version UInt32,
    bucket_start DateTime('UTC') COMMENT 'start of the 5-minute bucket',
    entries UInt64,
    exits UInt64
) ENGINE = SummingMergeTree((entries, exits))
ORDER BY (store_id, line_id, layout_version, bucket_start)
SETTINGS {DEDUP_SETTINGS}
"""


def line_count_rows(counts: dict[BucketKey, list[int]]) -> pa.Table:
    """Rows of the table from [entries, exits] per bucket key, sorted by key."""
    ordered = sorted(counts.items())
    return pa.table(
        {
            "store_id": pa.array([k[0] for k, _ in ordered], pa.string()),
            "line_id": pa.array([k[1] for k, _ in ordered], pa.string()),
            "layout_version": pa.array([k[2] for k, _ in ordered], pa.uint32()),
            "bucket_start": pa.array([k[3] for k, _ in ordered], pa.timestamp("s", tz="UTC")),
            "entries": pa.array([v[0] for _, v in ordered], pa.uint64()),
            "exits": pa.array([v[1] for _, v in ordered], pa.uint64()),
        }
    )
