"""The checkout queue's positions as arrays, and grouping recorded rows by person.

On a crowded day the queue outgrows the store (it holds hundreds of parties
by the afternoon), so stepping its movers one by one in Python was most of a
day's simulation. Here a frame moves the whole queue with a few array
operations. Every element goes through the same IEEE operations, in the same
order, as the scalar code did (np.hypot is libm's hypot either way; Python's
math.hypot is not, and differs in the last bit), so positions are bit for bit
what they were.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class CheckoutQueue:
    """Queued parties head first: leader positions x, y (metres), step_m (metres walked per frame) per party.

    Each party's members stand at fixed offsets (metres) from its leader; `rows` gives their positions.
    Party i walks towards slot min(i, s - 1) of `slots` ((s, 2) metres, head first).
    """

    def __init__(self, slots: FloatArray) -> None:
        self._slot_x = np.ascontiguousarray(slots[:, 0], dtype=np.float64)
        self._slot_y = np.ascontiguousarray(slots[:, 1], dtype=np.float64)
        self.x = np.zeros(0)
        self.y = np.zeros(0)
        self._step_m = np.zeros(0)
        self._persons: list[list[int]] = []
        self._offsets: list[list[tuple[float, float]]] = []
        self._member_rows: tuple[IntArray, IntArray, FloatArray, FloatArray] | None = None

    def __len__(self) -> int:
        return len(self._persons)

    def join(self, x: float, y: float, step_m: float, persons: list[int], offsets: list[tuple[float, float]]) -> None:
        """Append a party at the tail: its leader at (x, y) metres, members `persons` at `offsets` metres."""
        self.x = np.append(self.x, x)
        self.y = np.append(self.y, y)
        self._step_m = np.append(self._step_m, step_m)
        self._persons.append(persons)
        self._offsets.append(offsets)
        self._member_rows = None

    def pop_head(self) -> tuple[float, float]:
        """Remove the head party; return where its leader stands (metres)."""
        x, y = float(self.x[0]), float(self.y[0])
        self.x, self.y, self._step_m = self.x[1:].copy(), self.y[1:].copy(), self._step_m[1:].copy()
        self._persons.pop(0)
        self._offsets.pop(0)
        self._member_rows = None
        return x, y

    def advance(self) -> bool:
        """Walk every party a frame's step towards its slot; return whether the head is at its slot now."""
        n = len(self._persons)
        if n == 0:
            return False
        slot = np.minimum(np.arange(n), len(self._slot_x) - 1)
        tx, ty = self._slot_x[slot], self._slot_y[slot]
        gx, gy = tx - self.x, ty - self.y
        dist = np.hypot(gx, gy)
        arrived = dist <= self._step_m
        # Where a party arrives (dist may be 0) the ratio is not used: the slot is taken as is.
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = self._step_m / dist
            self.x = np.where(arrived, tx, self.x + gx * ratio)
            self.y = np.where(arrived, ty, self.y + gy * ratio)
        return bool(arrived[0])

    def rows(self) -> tuple[IntArray, FloatArray, FloatArray]:
        """(m,) person, x and y (metres) of every queued person, leader position plus member offset."""
        if self._member_rows is None:
            person = [p for ps in self._persons for p in ps]
            party = [i for i, ps in enumerate(self._persons) for _ in ps]
            dx = [d[0] for offs, ps in zip(self._offsets, self._persons, strict=True) for d in offs[: len(ps)]]
            dy = [d[1] for offs, ps in zip(self._offsets, self._persons, strict=True) for d in offs[: len(ps)]]
            self._member_rows = (np.array(person, dtype=np.int64), np.array(party, dtype=np.int64),
                                 np.array(dx, dtype=np.float64), np.array(dy, dtype=np.float64))  # fmt: skip
        person_arr, party_arr, dx_arr, dy_arr = self._member_rows
        return person_arr, self.x[party_arr] + dx_arr, self.y[party_arr] + dy_arr


@njit(cache=True)
def counting_order(key: IntArray, n_keys: int) -> tuple[IntArray, IntArray]:
    """The stable order that sorts `key` (values in 0..n_keys-1), and the (n_keys + 1,) offsets of each key's rows."""
    counts = np.zeros(n_keys + 1, dtype=np.int64)
    for k in key:
        counts[k + 1] += 1
    offsets = np.cumsum(counts)
    cursor = offsets[:-1].copy()
    order = np.empty(key.shape[0], dtype=np.int64)
    for i in range(key.shape[0]):
        k = key[i]
        order[cursor[k]] = i
        cursor[k] += 1
    return order, offsets


def group_rows_by_person(person: IntArray, frame: IntArray, n_people: int) -> tuple[IntArray, IntArray]:
    """The order that sorts rows by person, then frame, and the (n_people + 1,) offsets of each person's rows.

    One person has at most one row per frame. A stable sort by frame, then a counting sort by person (which
    keeps that order within a person): linear where the rows come as a few runs already in frame order.
    """
    by_frame = np.argsort(frame, kind="stable")
    order, offsets = counting_order(person[by_frame], n_people)
    return by_frame[order], offsets
