CREATE TABLE IF NOT EXISTS footfall.projection_checkpoints_local ON CLUSTER footfall_cluster (
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
        ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/footfall/projection_checkpoints_local', '{replica}') ORDER BY (projection_id, write_no)
        SETTINGS replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS footfall.projection_checkpoints ON CLUSTER footfall_cluster AS footfall.projection_checkpoints_local
ENGINE = Distributed(footfall_cluster, footfall, projection_checkpoints_local, cityHash64(projection_id));

CREATE TABLE IF NOT EXISTS footfall.projection_versions_local ON CLUSTER footfall_cluster (
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
        ) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/footfall/projection_versions_local', '{replica}') ORDER BY (projection_id, write_no)
        SETTINGS replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS footfall.projection_versions ON CLUSTER footfall_cluster AS footfall.projection_versions_local
ENGINE = Distributed(footfall_cluster, footfall, projection_versions_local, cityHash64(projection_id));

CREATE TABLE IF NOT EXISTS footfall.alerts_local ON CLUSTER footfall_cluster (
    store_id LowCardinality(String),
    rule_id LowCardinality(String),
    zone_id LowCardinality(String),
    metric LowCardinality(String),
    severity LowCardinality(String),
    layout_version UInt32,
    raised_at DateTime64(3, 'UTC'),
    cleared_at Nullable(DateTime64(3, 'UTC')) COMMENT 'NULL while open',
    threshold Float64,
    peak Float64 COMMENT 'the highest value while open, in the metric''s unit',
    duration_s Nullable(Float64) COMMENT 'seconds from raised to cleared',
    reason LowCardinality(String) COMMENT 'open, cleared, inactive (outside active hours) or closed',
    row_version UInt8 COMMENT '0 open, 1 closed: the newest row of an alert wins'
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/footfall/alerts_local', '{replica}', row_version)
ORDER BY (store_id, rule_id, raised_at)
SETTINGS replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS footfall.alerts ON CLUSTER footfall_cluster AS footfall.alerts_local
ENGINE = Distributed(footfall_cluster, footfall, alerts_local, cityHash64(store_id));

CREATE TABLE IF NOT EXISTS footfall.zone_visits_local ON CLUSTER footfall_cluster (
    store_id LowCardinality(String),
    layout_version UInt32,
    zone_id LowCardinality(String),
    visit_id String,
    party_id String,
    entered DateTime64(9, 'UTC'),
    exited DateTime64(9, 'UTC'),
    dwell_s Float64 COMMENT 'seconds, exited - entered'
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/footfall/zone_visits_local', '{replica}')
ORDER BY (store_id, layout_version, zone_id, entered, visit_id)
SETTINGS replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS footfall.zone_visits ON CLUSTER footfall_cluster AS footfall.zone_visits_local
ENGINE = Distributed(footfall_cluster, footfall, zone_visits_local, cityHash64(store_id));

CREATE TABLE IF NOT EXISTS footfall.footfall_lines_local ON CLUSTER footfall_cluster (
    store_id LowCardinality(String),
    line_id LowCardinality(String),
    layout_version UInt32,
    bucket_start DateTime('UTC') COMMENT 'start of the 5-minute bucket',
    entries UInt64,
    exits UInt64
) ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/footfall/footfall_lines_local', '{replica}', (entries, exits))
ORDER BY (store_id, line_id, layout_version, bucket_start)
SETTINGS replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS footfall.footfall_lines ON CLUSTER footfall_cluster AS footfall.footfall_lines_local
ENGINE = Distributed(footfall_cluster, footfall, footfall_lines_local, cityHash64(store_id));

CREATE TABLE IF NOT EXISTS footfall.visits_local ON CLUSTER footfall_cluster (
    store_id LowCardinality(String),
    layout_version UInt32,
    visit_id String COMMENT 'camera:edge_run:first track id:start ts_ns',
    party_id String COMMENT 'group id, or visit_id for a visit alone',
    group_size_hint UInt8 COMMENT '1 alone, 2 in a group',
    is_staff UInt8,
    started DateTime64(9, 'UTC'),
    ended DateTime64(9, 'UTC'),
    duration_s Float64 COMMENT 'seconds'
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/footfall/visits_local', '{replica}')
ORDER BY (store_id, layout_version, started, visit_id)
SETTINGS replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS footfall.visits ON CLUSTER footfall_cluster AS footfall.visits_local
ENGINE = Distributed(footfall_cluster, footfall, visits_local, cityHash64(store_id));

CREATE TABLE IF NOT EXISTS footfall.funnel_visits_local ON CLUSTER footfall_cluster (
    store_id LowCardinality(String),
    layout_version UInt32,
    visit_id String,
    party_id String,
    started DateTime64(9, 'UTC'),
    stage LowCardinality(String) COMMENT 'furthest stage: entered, engaged, queued, checked_out',
    stage_index UInt8 COMMENT '0 entered .. 3 checked_out',
    engaged UInt8,
    queued UInt8,
    checked_out UInt8
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/footfall/funnel_visits_local', '{replica}')
ORDER BY (store_id, layout_version, started, visit_id)
SETTINGS replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS footfall.funnel_visits ON CLUSTER footfall_cluster AS footfall.funnel_visits_local
ENGINE = Distributed(footfall_cluster, footfall, funnel_visits_local, cityHash64(store_id));

CREATE TABLE IF NOT EXISTS footfall.heatmap_local ON CLUSTER footfall_cluster (
    store_id LowCardinality(String),
    layout_version UInt32,
    bucket_start DateTime('UTC'),
    cell_m Float32 COMMENT 'cell size, metres',
    cell_x Int32 COMMENT 'floor(x / cell_m)',
    cell_y Int32 COMMENT 'floor(y / cell_m)',
    track String COMMENT 'camera:edge_run:track_id',
    presence_s Float64 COMMENT 'seconds'
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/footfall/heatmap_local', '{replica}')
ORDER BY (store_id, layout_version, bucket_start, cell_x, cell_y, track)
SETTINGS replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS footfall.heatmap ON CLUSTER footfall_cluster AS footfall.heatmap_local
ENGINE = Distributed(footfall_cluster, footfall, heatmap_local, cityHash64(store_id));

CREATE TABLE IF NOT EXISTS footfall.line_counts_local ON CLUSTER footfall_cluster (
    store_id LowCardinality(String),
    line_id LowCardinality(String),
    layout_version UInt32,
    bucket_start DateTime('UTC') COMMENT 'start of the 5-minute bucket',
    entries UInt64,
    exits UInt64
) ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/footfall/line_counts_local', '{replica}', (entries, exits))
ORDER BY (store_id, line_id, layout_version, bucket_start)
SETTINGS replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS footfall.line_counts ON CLUSTER footfall_cluster AS footfall.line_counts_local
ENGINE = Distributed(footfall_cluster, footfall, line_counts_local, cityHash64(store_id));

CREATE TABLE IF NOT EXISTS footfall.occupancy_series_local ON CLUSTER footfall_cluster (
    store_id LowCardinality(String),
    layout_version UInt32,
    zone_id LowCardinality(String) COMMENT 'empty for the whole store',
    ts DateTime64(3, 'UTC') COMMENT 'sampling tick',
    people UInt32
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/footfall/occupancy_series_local', '{replica}')
ORDER BY (store_id, layout_version, zone_id, ts)
SETTINGS replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS footfall.occupancy_series ON CLUSTER footfall_cluster AS footfall.occupancy_series_local
ENGINE = Distributed(footfall_cluster, footfall, occupancy_series_local, cityHash64(store_id));

CREATE TABLE IF NOT EXISTS footfall.pos_transactions_local ON CLUSTER footfall_cluster (
    store_id LowCardinality(String),
    terminal_id LowCardinality(String),
    transaction_id String,
    ts DateTime64(9, 'UTC'),
    item_count UInt32,
    amount_minor Int64,
    currency LowCardinality(String)
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/footfall/pos_transactions_local', '{replica}')
ORDER BY (store_id, ts, terminal_id, transaction_id)
SETTINGS replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS footfall.pos_transactions ON CLUSTER footfall_cluster AS footfall.pos_transactions_local
ENGINE = Distributed(footfall_cluster, footfall, pos_transactions_local, cityHash64(store_id));

CREATE TABLE IF NOT EXISTS footfall.queue_series_local ON CLUSTER footfall_cluster (
    store_id LowCardinality(String),
    layout_version UInt32,
    zone_id LowCardinality(String),
    ts DateTime64(3, 'UTC') COMMENT 'sampling tick',
    queue_length UInt32 COMMENT 'people',
    est_wait_s Float32 COMMENT 'seconds, from observed checkout completions'
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/footfall/queue_series_local', '{replica}')
ORDER BY (store_id, layout_version, zone_id, ts)
SETTINGS replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS footfall.queue_series ON CLUSTER footfall_cluster AS footfall.queue_series_local
ENGINE = Distributed(footfall_cluster, footfall, queue_series_local, cityHash64(store_id));

CREATE TABLE IF NOT EXISTS footfall.track_points_local ON CLUSTER footfall_cluster (
    store_id LowCardinality(String),
    camera_id LowCardinality(String),
    edge_run_id LowCardinality(String),
    track_id UInt64,
    ts DateTime64(9, 'UTC'),
    x_m Float32 COMMENT 'floor metres',
    y_m Float32 COMMENT 'floor metres',
    stream_seq UInt64
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/footfall/track_points_local', '{replica}')
PARTITION BY toYYYYMMDD(ts)
ORDER BY (store_id, camera_id, ts, track_id)
TTL toDateTime(ts) + INTERVAL 30 DAY
SETTINGS replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS footfall.track_points ON CLUSTER footfall_cluster AS footfall.track_points_local
ENGINE = Distributed(footfall_cluster, footfall, track_points_local, cityHash64(store_id));

CREATE TABLE IF NOT EXISTS footfall.zone_transitions_local ON CLUSTER footfall_cluster (
    store_id LowCardinality(String),
    layout_version UInt32,
    bucket_start DateTime('UTC'),
    from_state LowCardinality(String) COMMENT 'zone id, or _entrance',
    to_state LowCardinality(String) COMMENT 'zone id, or _exit',
    transitions UInt64
) ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/footfall/zone_transitions_local', '{replica}', transitions)
ORDER BY (store_id, layout_version, bucket_start, from_state, to_state)
SETTINGS replicated_deduplication_window = 100000;

CREATE TABLE IF NOT EXISTS footfall.zone_transitions ON CLUSTER footfall_cluster AS footfall.zone_transitions_local
ENGINE = Distributed(footfall_cluster, footfall, zone_transitions_local, cityHash64(store_id));
