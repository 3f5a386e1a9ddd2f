"""Replay into a new version: build a projection's tables from the log beside the live ones, then swap.

The build writes `<table>__build` under its own checkpoint key while the live
tables keep serving; projections/swap.py exchanges them atomically and keeps
the old rows as `<table>__previous` for side-by-side comparison.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.aio.client import Client as NatsClient

from projections.checkpoints import Checkpoints, live_keys
from projections.projection import Projection
from projections.runner import Progress, ProjectionRunner, RunStats
from projections.store import Store
from projections.swap import BUILD_SUFFIX, start_swap


class ReplayError(RuntimeError):
    """A replay could not build or swap in the new version."""


@dataclass(frozen=True)
class ReplayResult:
    """What a replay built and swapped in."""

    projection: str
    code_version: str
    layout_versions: tuple[int, ...]
    last_seq: int
    stats: RunStats


async def replay(
    nc: NatsClient,
    store: Store,
    projection: Projection,
    *,
    from_seq: int = 1,
    restart: bool = False,
    batch: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    before_swap: Callable[[], Awaitable[None]] | None = None,
) -> ReplayResult:
    """Build `projection` from stream sequence `from_seq` into new tables, then swap them in.

    An unfinished build is resumed from its checkpoint unless `restart`. `before_swap` is awaited once
    the build has caught up (`footfall serve` pauses the live runner of the projection there); the build
    then folds what arrived meanwhile, so the swap hands the live runner tables that are current.
    """
    partitioned = [key for key in live_keys(store, projection.name) if key != projection.name]
    if partitioned:
        # The build and the swap hand over one position, the whole log's: a partition's would be lost.
        raise ReplayError(f"{projection.name} is folded in partitions ({', '.join(partitioned)}); a replay "
                          "rebuilds the whole log into one set of tables, so stop those projectors and drop "
                          "their checkpoints (or fold into a new data directory) to replay it")  # fmt: skip
    build_key = f"{projection.name}{BUILD_SUFFIX}"
    runner = ProjectionRunner(
        nc, store, projection, key=build_key, table_suffix=BUILD_SUFFIX, batch=batch, progress=progress
    )
    if restart:
        for table in runner.tables.values():
            store.execute(f"DROP TABLE IF EXISTS {store.database}.{table}")
        store.execute(f"DELETE FROM {store.database}.projection_checkpoints WHERE projection_id = '{build_key}'")
    stats = await runner.run(until_caught_up=True, from_seq=from_seq)
    if before_swap is not None:
        await before_swap()
        stats = await runner.run(until_caught_up=True, from_seq=from_seq)  # resumes from the build's checkpoint
    done, _ = Checkpoints(store, build_key, projection.version).load()
    if done is None:
        raise ReplayError(f"replay of {projection.name} folded nothing: {projection.stream} has no messages "
                          f"from sequence {from_seq}")  # fmt: skip
    layouts = tuple(sorted(runner.layout_versions))
    start_swap(store, projection, last_seq=done.last_seq, layout_seq=done.layout_seq, state=done.state,
               layout_versions=layouts, built_from_seq=from_seq)  # fmt: skip
    return ReplayResult(projection.name, projection.version, layouts, done.last_seq, stats)
