"""Golden digests of the simulator's own output: events, POS transactions, layout and ground truth.

The reference for any speed-up of `simulate_day` (issue 16, item 6): for a seed, the events (ids and
contents), the POS transactions, the layout and the truth must stay exactly these, bit for bit. Recorded
on the pre-vectorisation code on 20-minute days dated T0_NS with realistic noise. Events, POS and layout
are hashed as their MessagePack encodings (schemas.codec.encode), in log order; the truth as its JSON.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from ml_core.sim.agents import ShopperConfig
from ml_core.sim.noise import REALISTIC
from ops.simulation.simulate import simulate_day, truth_json
from schemas.codec import encode

DURATION_S = 1200.0
# A crowded hour: arrivals outrun the till. Nobody balks, so the queue grows past its slots (the queue's own
# code path, recorded before parties balked at a full queue); and the same hour as the simulator now has it.
CROWDED = ShopperConfig(duration_s=3600.0, parties_per_hour=300.0, balk_at_parties=10**6)
BALKING = ShopperConfig(duration_s=3600.0, parties_per_hour=300.0)

# (seed, cameras) -> (events, POS transactions, sha256 of the messages, sha256 of the truth JSON),
# digests as their first 16 hex digits. Recorded again when the layout gained `time_zone` (its encoding
# now ends "time_zone": "UTC"); the events and POS transactions were checked byte-equal across that change.
GOLDEN = {
    (1, 1): (3182, 28, "20b2d0a0206b6d35", "535401d1b83e52f2"),
    (1, 3): (9661, 28, "b9ae47c1da6ead1c", "535401d1b83e52f2"),
    (2, 1): (2803, 29, "3909a1407e106978", "cb824f9c1d07122e"),
    (2, 3): (8579, 29, "01e50c86cb05bb7f", "cb824f9c1d07122e"),
    (3, 1): (2938, 32, "bbef0a4f252a9caf", "c491867350a2f736"),
    (3, 3): (9053, 32, "d60a0f7153b53e54", "c491867350a2f736"),
}

CROWDED_GOLDEN = (44392, 182, "19d9a51c5e3c351b", "295981e2a36d1d06")
BALKING_GOLDEN = (29613, 114, "0ba89e4c8fb5c100", "2e23cc10231e867b")


def _digest(seed: int, cameras: int, shopper: ShopperConfig | None = None) -> tuple[int, int, str, str]:
    shopper = shopper or ShopperConfig(duration_s=DURATION_S)
    day = simulate_day(seed, shopper=shopper, noise=REALISTIC, cameras=cameras)
    messages = hashlib.sha256()
    for event in [day.layout, *day.events, *day.pos]:
        data = encode(event)
        # Length-prefixed, so moving bytes from one message to the next changes the digest.
        messages.update(len(data).to_bytes(8, "little"))
        messages.update(data)
    truth = hashlib.sha256(json.dumps(truth_json(day.truth), sort_keys=True).encode())
    return len(day.events), len(day.pos), messages.hexdigest()[:16], truth.hexdigest()[:16]


@pytest.mark.parametrize(("seed", "cameras"), sorted(GOLDEN))
def test_simulator_output_is_unchanged(seed: int, cameras: int) -> None:
    assert _digest(seed, cameras) == GOLDEN[(seed, cameras)]


def test_crowded_day_is_unchanged() -> None:
    assert _digest(4, 3, CROWDED) == CROWDED_GOLDEN


def test_crowded_day_with_balking_is_unchanged() -> None:
    assert _digest(4, 3, BALKING) == BALKING_GOLDEN


if __name__ == "__main__":  # prints the tables, for recording them on purpose
    for key in sorted(GOLDEN):
        print(f"    {key}: {_digest(*key)!r},")
    print(f"CROWDED_GOLDEN = {_digest(4, 3, CROWDED)!r}")
    print(f"BALKING_GOLDEN = {_digest(4, 3, BALKING)!r}")
