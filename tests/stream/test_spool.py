"""The on-disk spool: order, bound with counted drops, crash recovery of a torn tail, one process per directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stream.errors import SpoolError
from stream.spool import Spool, SpoolRecord


def rec(i: int, size: int = 10) -> SpoolRecord:
    return SpoolRecord(f"ff.v1.s.c{i % 3}.tracks", f"c:r:{i}", bytes([i % 256]) * size)


def drain(spool: Spool) -> list[SpoolRecord]:
    out = []
    while True:
        start = spool.cursor
        batch = spool.read(7)
        if not batch:
            return out
        assert start <= batch[0][0]
        out.extend(r for _, r in batch)
        spool.commit(batch[-1][0], len(batch))


def test_records_come_back_in_order_across_segments_and_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=64 << 10, segment_bytes=1024, fsync="never")
    for i in range(200):
        spool.append(rec(i))
    assert len(list(tmp_path.glob("*.seg"))) > 2
    spool.close()
    reopened = Spool(tmp_path, max_bytes=64 << 10, segment_bytes=1024)
    assert reopened.stats.recovered == 200
    assert drain(reopened) == [rec(i) for i in range(200)]
    assert reopened.stats.backlog == 0
    assert list(tmp_path.glob("*.seg")) == []


def test_rewind_rereads_unacknowledged_records(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=64 << 10, segment_bytes=1024)
    for i in range(50):
        spool.append(rec(i))
    first = spool.read(10)
    spool.commit(first[4][0], 5)  # 0..4 acknowledged, 5..9 lost in flight
    spool.rewind(first[4][0])
    assert [r for _, r in spool.read(100)] == [rec(i) for i in range(5, 50)]


def test_full_spool_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=8192, segment_bytes=2048)
    for i in range(500):
        spool.append(rec(i, size=40))
    assert spool.stats.dropped > 0
    assert spool.stats.bytes_on_disk <= 8192
    kept = drain(spool)
    assert spool.stats.dropped + len(kept) == 500
    assert kept == [rec(i, size=40) for i in range(500 - len(kept), 500)]  # the newest survive, in order


# How a crash can leave the last record: cut inside the header, inside the body, or with garbage appended.
TORN = [
    pytest.param(lambda data: data[:-3], id="body-cut-short"),
    pytest.param(lambda data: data[: len(data) - 20 - 3], id="header-cut-short"),
    pytest.param(lambda data: data[:-1] + bytes([data[-1] ^ 0xFF]), id="last-byte-flipped"),
    pytest.param(lambda data: data + b"\x07\x00", id="garbage-after-last"),
]


@pytest.mark.parametrize("tear", TORN)
def test_a_torn_last_record_is_discarded_not_fatal(tmp_path: Path, tear) -> None:  # type: ignore[no-untyped-def]
    spool = Spool(tmp_path, max_bytes=64 << 10, segment_bytes=16 << 10, fsync="always")
    for i in range(20):
        spool.append(rec(i))
    spool.close()
    (segment,) = tmp_path.glob("*.seg")
    data = segment.read_bytes()
    segment.write_bytes(tear(data))
    reopened = Spool(tmp_path, max_bytes=64 << 10, segment_bytes=16 << 10)
    records = drain(reopened)
    expected = 20 if tear is TORN[3].values[0] else 19
    assert records == [rec(i) for i in range(expected)]
    assert reopened.stats.torn_bytes_discarded > 0


def test_one_process_per_spool_directory(tmp_path: Path) -> None:
    first = Spool(tmp_path)
    pid = os.fork()
    if pid == 0:  # a second process must be refused while the first holds the lock
        try:
            Spool(tmp_path)
        except SpoolError:
            os._exit(0)
        os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    first.close()
