"""Shared fixtures: a real nats-server from the wheel and one real chDB session for the whole run."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext

from projections.store import ChdbStore
from stream.embedded import EmbeddedNats

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    """One embedded nats-server for the session, on a random loopback port."""
    with EmbeddedNats(tmp_path_factory.mktemp("nats")) as server:
        yield server


@pytest.fixture()
def fresh_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A nats-server of the test's own, for tests that provision or kill it."""
    with EmbeddedNats(tmp_path / "nats") as server:
        yield server


@pytest.fixture()
async def js(fresh_nats: EmbeddedNats) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(fresh_nats.url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


@pytest.fixture(scope="session")
def chdb_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbStore]:
    """chDB allows one data directory per process: one session, a database per test."""
    store = ChdbStore(tmp_path_factory.mktemp("chdb"))
    yield store
    store.close()


@pytest.fixture()
def store(chdb_session: ChdbStore, request: pytest.FixtureRequest) -> ChdbStore:
    name = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:40]
    return chdb_session.in_database(f"t_{name}_{uuid.uuid4().hex[:8]}")
