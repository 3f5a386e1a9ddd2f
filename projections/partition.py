"""Which stores one projector process folds: a partition of the log by store (issue 19, step 5).

Every subject carries its store (`ff.v1.<store>...`, schemas/subjects.py), and every projection's
state and rows are per store, so a chain's log splits by store into independent folds. A partition
is one of:

- `stores`: the stores named. The durable consumer filters on the server (`filter_subjects`, one
  `ff.v1.<store>.>` each), so the process receives only its own stores' messages.
- `K/N` (1 <= K <= N): the stores whose FNV-1a 32-bit hash, modulo N, is K - 1: the hash nats-server's
  `partition(N, ...)` subject mapping uses, so a store lands where NATS's own partitioning puts it
  (a test checks this against the server). No list of stores is needed, so a store that opens
  later is folded by its partition from its first message. The filter is applied here, to each
  message's subject, not on the server: a JetStream filter cannot hash. Each of the N processes
  therefore receives the whole stream (the raw read is a small share of a fold's time: see
  `footfall bench project`) and folds only its share.

A partition's position is its own checkpoint, under the key `<projection>@<partition>`; a batch's
range is re-read through the same filter when it is rebuilt, so recovery is exact per partition.
One projection's tables must be built under one scheme: `conflict` says why another would fold a
store twice or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from schemas.ids import is_valid_id
from schemas.subjects import PREFIX

_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193
_K_OF_N = re.compile(r"^(\d+)/(\d+)$")
_KEY_K_OF_N = re.compile(r"^(\d+)of(\d+)$")


class PartitionError(ValueError):
    """A partition that cannot be used, with what is wrong in the message."""


def fnv1a_32(data: bytes) -> int:
    """The 32-bit FNV-1a hash of `data` (Go's hash/fnv New32a, which nats-server's partition() uses)."""
    h = _FNV32_OFFSET
    for byte in data:
        h = ((h ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return h


def store_of(subject: str) -> str:
    """The store token of a footfall subject (`ff.v1.<store>...`); "" if it has none."""
    parts = subject.split(".", 3)
    return parts[2] if len(parts) > 2 else ""


@dataclass(frozen=True)
class Partition:
    """One projector's share of the stores: `stores` by name, or part `index` (1-based) of `count` by hash."""

    stores: tuple[str, ...] = ()
    index: int = 0
    count: int = 0

    @classmethod
    def of_stores(cls, stores: Iterable[str]) -> Partition:
        """The stores named (duplicates dropped); PartitionError naming a store id that is not valid."""
        names = sorted({s.strip() for s in stores if s.strip()})
        if not names:
            raise PartitionError("--stores: give at least one store id, e.g. --stores store-a,store-b")
        for name in names:
            if not is_valid_id(name):
                raise PartitionError(f"--stores: store id {name!r} must match [a-z0-9][a-z0-9_-]{{0,31}}")
        return cls(stores=tuple(names))

    @classmethod
    def parse(cls, text: str) -> Partition:
        """`K/N` with 1 <= K <= N; PartitionError quoting the value otherwise."""
        match = _K_OF_N.match(text.strip())
        if match is None:
            raise PartitionError(f"--partition: expected K/N (e.g. 1/4), got {text!r}")
        index, count = int(match[1]), int(match[2])
        if count < 1 or not 1 <= index <= count:
            raise PartitionError(f"--partition: K must be between 1 and N (N at least 1), got {text!r}")
        return cls(index=index, count=count)

    @property
    def by_hash(self) -> bool:
        return self.count > 0

    @property
    def name(self) -> str:
        """How the partition is written in a checkpoint key: `2of4`, or `stores:` and the stores joined by commas."""
        return f"{self.index}of{self.count}" if self.by_hash else "stores:" + ",".join(self.stores)

    def key(self, projection: str) -> str:
        """The checkpoint and consumer identity of `projection` in this partition."""
        return f"{projection}@{self.name}"

    def filter_subjects(self) -> list[str] | None:
        """The server-side subject filters: one per named store; None (every subject) for a hash partition."""
        return None if self.by_hash else [f"{PREFIX}.{store}.>" for store in self.stores]

    def holds(self, store_id: str) -> bool:
        """Whether this partition folds `store_id`'s messages."""
        if self.by_hash:
            return fnv1a_32(store_id.encode()) % self.count == self.index - 1
        return store_id in self.stores

    def mine(self, subjects: list[str]) -> list[int] | None:
        """The positions of the subjects this partition folds, or None when all are (the server filtered)."""
        if not self.by_hash:
            return None
        held = {s: self.holds(store_of(s)) for s in set(subjects)}  # a few subjects, many messages
        return [i for i, s in enumerate(subjects) if held[s]]


def parse_key(projection: str, key: str) -> Partition | None:
    """The partition a checkpoint key of `projection` was written under; None for the whole log."""
    if key == projection:
        return None
    name = key.removeprefix(f"{projection}@")
    if name.startswith("stores:"):
        return Partition(stores=tuple(name.removeprefix("stores:").split(",")))
    match = _KEY_K_OF_N.match(name)
    if match is None:
        raise PartitionError(f"checkpoint key {key!r} names no partition of {projection}")
    return Partition(index=int(match[1]), count=int(match[2]))


def conflict(projection: str, ours: Partition | None, existing_keys: Iterable[str]) -> str | None:
    """Why folding `projection` under `ours` (None: the whole log) beside checkpoints already written under
    `existing_keys` would fold some store twice or leave one out; None when it would not.

    Hash partitions of one N cover every store once between them; named stores must not overlap; and one
    projection's tables are built under one kind of scheme.
    """
    ours_key = projection if ours is None else ours.key(projection)
    for key in sorted(set(existing_keys) - {ours_key}):
        theirs = parse_key(projection, key)
        said = f"{projection} has checkpoints under {key!r}"
        if ours is None or theirs is None:
            whole, part = (ours_key, key) if ours is None else (key, ours_key)
            return (
                f"{said}; {whole!r} folds every store and {part!r} a share of them, so their tables would count "
                "some stores twice. Run it the same way as before, or fold into a new data directory"
            )
        if ours.by_hash != theirs.by_hash:
            return f"{said}, partitioned the other way (--stores against --partition K/N); use one scheme"
        if ours.by_hash and ours.count != theirs.count:
            return (f"{said}: {theirs.count} hash partitions, not {ours.count}; a store would be in two of "
                    f"them. Use --partition K/{theirs.count}, or fold into a new data directory")  # fmt: skip
        if not ours.by_hash and set(ours.stores) & set(theirs.stores):
            shared = ", ".join(sorted(set(ours.stores) & set(theirs.stores)))
            return f"{said}, which folds {shared} as well; give each store to one process"
    return None
