"""Seeded agent simulation: parties of shoppers, a FIFO checkout queue served at a set rate, and staff.

Everything is in floor metres and frames of `frame_period_s` seconds. The
result is the true position of every person in every frame; noise and
events are added by the caller.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ml_core.sim.plan import FloorPlan, SimZone
from ml_core.sim.queue import CheckoutQueue, group_rows_by_person
from ml_core.sim.scenarios import BURST_SEED_SALT, Burst, StaffBreak

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

CUSTOMER = 0
STAFF = 1
# Seconds a staff member's walks to a task and back take at most (the default plan's longest is ~25 s).
_STAFF_WALK_MARGIN_S = 60.0

# Offsets (metres) of a party's members from its leader: small enough that a member stands inside the
# zone its leader stands in (spots keep 0.9 m from zone edges), far enough to be seen as separate people.
_MEMBER_OFFSETS = ((0.0, 0.0), (0.35, -0.3), (-0.35, -0.3), (0.0, -0.55))


@dataclass(frozen=True)
class ShopperConfig:
    """What the simulated day looks like. Times in seconds, speeds in metres per second.

    Parties arrive as a Poisson process (at least min_arrival_gap_s apart) for duration_s; each
    visits `zones_per_visit` product zones, dwelling a lognormal time (median per zone, sigma),
    and with buy_probability queues and is served (exponential service time, mean service_mean_s).

    A party that finds balk_at_parties parties queued already gives up, and leaves by the nearest door
    without buying (0: as many as the plan's queue has slots). Without it a store busier than its till
    grew its queue all day (at 300 parties an hour one till serves ~114 of ~195 buyers an hour: a 4-hour
    day's queue held 95 parties, piled on the queue's last slot, and ended only by max_extra_s).

    bursts: opt-in scenarios (ml_core/sim/scenarios.py), extra parties on top of the day's; their parties
    are numbered after the day's and draw from a generator of their own, so the day's parties are drawn
    exactly as without them. staff_breaks: opt-in staff gaps (scenarios.StaffBreak); they draw nothing.
    """

    duration_s: float = 1800.0
    parties_per_hour: float = 150.0
    group_size_probs: tuple[float, float, float, float] = (0.7, 0.17, 0.09, 0.04)
    min_arrival_gap_s: float = 4.0
    zones_per_visit: tuple[int, int] = (1, 3)
    dwell_median_s: float = 30.0
    dwell_median_by_zone: tuple[tuple[str, float], ...] = (("bakery", 45.0), ("drinks", 20.0))
    dwell_sigma: float = 0.6
    min_dwell_s: float = 5.0
    buy_probability: float = 0.65
    service_mean_s: float = 30.0
    min_service_s: float = 8.0
    head_wait_s: float = 2.0
    walk_speed_m_s: tuple[float, float] = (0.9, 1.4)
    floor_staff: int = 2
    cashiers: int = 1
    staff_rest_mean_s: float = 150.0
    staff_task_s: tuple[float, float] = (20.0, 60.0)
    frame_period_s: float = 0.5
    tail_s: float = 12.0
    max_extra_s: float = 7200.0
    balk_at_parties: int = 0
    bursts: tuple[Burst, ...] = ()
    staff_breaks: tuple[StaffBreak, ...] = ()

    def __post_init__(self) -> None:
        for i, burst in enumerate(self.bursts):
            if burst.end_s > self.duration_s:
                raise ValueError(
                    f"bursts[{i}] ends at {burst.end_s} s, after the day's arrivals end (duration_s {self.duration_s})"
                )
        if self.balk_at_parties < 0:
            raise ValueError(f"balk_at_parties must be >= 0 (0: the plan's queue slots), got {self.balk_at_parties}")
        if self.duration_s <= 0:
            raise ValueError(f"duration_s must be > 0, got {self.duration_s}")
        if self.parties_per_hour <= 0:
            raise ValueError(f"parties_per_hour must be > 0, got {self.parties_per_hour}")
        if abs(sum(self.group_size_probs) - 1.0) > 1e-6 or min(self.group_size_probs) < 0:
            raise ValueError(
                f"group_size_probs must be 4 non-negative values summing to 1, got {self.group_size_probs}"
            )
        if self.service_mean_s <= 0:
            raise ValueError(f"service_mean_s must be > 0, got {self.service_mean_s}")
        if not 0 < self.frame_period_s <= 2.0:
            raise ValueError(f"frame_period_s must be in (0, 2], got {self.frame_period_s}")
        lo, hi = self.zones_per_visit
        if not 0 <= lo <= hi:
            raise ValueError(f"zones_per_visit must be (min, max) with 0 <= min <= max, got {self.zones_per_visit}")

    def dwell_median(self, zone_id: str) -> float:
        return dict(self.dwell_median_by_zone).get(zone_id, self.dwell_median_s)


@dataclass(frozen=True)
class Trajectories:
    """True positions, one row per (person, frame) a person is present; frame f is at f * frame_period_s.

    Rows are sorted by person, then frame: person p's rows are offsets[p]:offsets[p + 1] of frame (n,) and
    xy (n, 2) metres. Stored sparse because a long day has thousands of people, each present for minutes.
    kind (P,): CUSTOMER or STAFF. party (P,): party index of a customer, -1 for staff.
    purchases: (n, 2) int64 rows of (frame the service ended, party index).
    """

    frame_period_s: float
    n_frames: int
    frame: IntArray
    xy: FloatArray
    offsets: IntArray
    kind: npt.NDArray[np.int8]
    party: IntArray
    purchases: IntArray

    @property
    def n_people(self) -> int:
        return int(self.kind.shape[0])

    def frames_of(self, person: int) -> IntArray:
        """(k,) increasing frames in which `person` is present."""
        return self.frame[self.offsets[person] : self.offsets[person + 1]]

    def xy_of(self, person: int) -> FloatArray:
        """(k, 2) true positions (metres) of `person`, one per frame of frames_of(person)."""
        return self.xy[self.offsets[person] : self.offsets[person + 1]]

    @property
    def pos(self) -> FloatArray:
        """Dense (F, P, 2) positions, metres, NaN where a person is absent (F * P * 16 bytes: short days only)."""
        out = np.full((self.n_frames, self.n_people, 2), np.nan)
        person = np.repeat(np.arange(self.n_people), np.diff(self.offsets))
        out[self.frame, person] = self.xy
        return out


@dataclass
class _Mover:
    """A party leader or a staff member: where it is, how fast it walks, and its plan (a deque of steps)."""

    index: int
    members: list[int]
    pos: FloatArray
    speed: float
    seq: int = 0  # spawn order, which is the order movers are stepped in (and so the order of random draws)
    steps: deque[tuple[str, object]] = field(default_factory=deque)
    wait_until: int = -1
    at_head_since: int = -1
    staff: bool = False
    gone: bool = False
    queued: bool = False  # in the checkout queue, which moves it


def simulate(plan: FloorPlan, config: ShopperConfig, seed: int) -> Trajectories:
    """Run the day and return every person's true position per frame (deterministic for a seed)."""
    burst_rng = np.random.default_rng((seed, BURST_SEED_SALT)) if config.bursts else None
    return _Simulation(plan, config, np.random.default_rng(seed), burst_rng).run()


class _Simulation:
    def __init__(
        self, plan: FloorPlan, config: ShopperConfig, rng: np.random.Generator,
        burst_rng: np.random.Generator | None = None,
    ) -> None:  # fmt: skip
        self.plan, self.cfg, self.rng = plan, config, rng
        self.burst_rng = burst_rng
        for i, burst in enumerate(config.bursts):
            if burst.zone_id is not None and burst.zone_id not in {z.zone_id for z in plan.zones_of_kind("product")}:
                raise ValueError(f"bursts[{i}].zone_id {burst.zone_id!r} is not a product zone of the plan")
        self.dt = config.frame_period_s
        # Rows recorded outside the queue, in frame order: person, frame, x, y (metres).
        self.rec_person: list[int] = []
        self.rec_frame: list[int] = []
        self.rec_x: list[float] = []
        self.rec_y: list[float] = []
        # Rows recorded in the queue, one chunk per frame, in frame order: (person, x, y) arrays and the frame.
        self.queue_rows: list[tuple[IntArray, FloatArray, FloatArray, int]] = []
        self.kinds: list[int] = []
        self.parties: list[int] = []
        # Movers not gone and not queued, in spawn order (the order they are stepped in).
        self.movers: list[_Mover] = []
        self.spawned = 0
        # The queue's movers head first; their positions live in checkout while queued.
        self.queue: list[_Mover] = []
        self.checkout = CheckoutQueue(plan.queue_slots)
        self._balk_at = config.balk_at_parties or len(plan.queue_slots)
        self.counter_free = True
        self.purchases: list[tuple[int, int]] = []
        self.product_zones = plan.zones_of_kind("product")

    def _new_person(self, kind: int, party: int) -> int:
        self.kinds.append(kind)
        self.parties.append(party)
        return len(self.kinds) - 1

    def _add_mover(self, mover: _Mover) -> None:
        mover.seq = self.spawned
        self.spawned += 1
        self.movers.append(mover)

    def _arrivals(self) -> list[int]:
        frames: list[int] = []
        t = 0.0
        rate = self.cfg.parties_per_hour / 3600.0
        while True:
            t += max(self.rng.exponential(1.0 / rate), self.cfg.min_arrival_gap_s)
            if t >= self.cfg.duration_s:
                return frames
            frames.append(math.ceil(t / self.dt))

    def _burst_arrivals(self) -> list[tuple[int, int]]:
        """(frame, burst index) of every burst party, in frame order (ties: burst order), from burst_rng."""
        out: list[tuple[int, int]] = []
        for b, burst in enumerate(self.cfg.bursts):
            assert self.burst_rng is not None
            t, rate = burst.start_s, burst.parties_per_hour / 3600.0
            while True:
                t += max(self.burst_rng.exponential(1.0 / rate), burst.min_gap_s)
                if t >= burst.end_s:
                    break
                out.append((math.ceil(t / self.dt), b))
        return sorted(out)

    def _spawn_burst_party(self, party: int, burst: Burst) -> None:
        """A burst's party: in by a door, to its zone (or not), then the queue or out; every draw from burst_rng."""
        rng, plan = self.burst_rng, self.plan
        assert rng is not None
        size = 1 + int(rng.choice(4, p=self.cfg.group_size_probs))
        members = [self._new_person(CUSTOMER, party) for _ in range(size)]
        door = plan.entry_door(rng)
        start = np.array(door.outside) + np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.1, 0.1)])
        lo, hi = self.cfg.walk_speed_m_s
        mover = _Mover(party, members, start, float(rng.uniform(lo, hi)))
        node = door.node
        mover.steps.append(("walk", [np.array(plan.nodes[node])]))
        if burst.zone_id is not None:
            zone = plan.zone(burst.zone_id)
            assert zone.approach is not None
            mover.steps.append(("walk", [*plan.route(node, zone.approach)[1:], zone.random_spot(rng)]))
            dwell = rng.lognormal(math.log(burst.dwell_s), self.cfg.dwell_sigma)
            mover.steps.append(("wait", self._frames(max(dwell, self.cfg.min_dwell_s))))
            mover.steps.append(("walk", [np.array(plan.nodes[zone.approach])]))
            node = zone.approach
        if rng.random() < burst.buy_probability:
            mover.steps.append(("walk", plan.route(node, plan.queue_approach)[1:]))
            mover.steps.append(("queue", None))
        else:
            leave = plan.nearest_door(node)
            route = plan.route(node, leave.node)[1:]
            mover.steps.append(("walk", [*route, np.array(leave.outside) + np.array([rng.uniform(-0.3, 0.3), 0.0])]))
            mover.steps.append(("vanish", None))
        self._add_mover(mover)

    def _speed(self) -> float:
        lo, hi = self.cfg.walk_speed_m_s
        return float(self.rng.uniform(lo, hi))

    def _frames(self, seconds: float) -> int:
        return max(1, round(seconds / self.dt))

    def _spawn_party(self, frame: int, party: int) -> None:
        size = 1 + int(self.rng.choice(4, p=self.cfg.group_size_probs))
        members = [self._new_person(CUSTOMER, party) for _ in range(size)]
        door = self.plan.entry_door(self.rng)  # draws only when the plan has several doors
        start = np.array(door.outside) + np.array([self.rng.uniform(-0.3, 0.3), self.rng.uniform(-0.1, 0.1)])
        mover = _Mover(party, members, start, self._speed())
        plan = self.plan
        lo, hi = self.cfg.zones_per_visit
        count = int(self.rng.integers(lo, hi + 1))
        chosen = [self.product_zones[i] for i in self.rng.permutation(len(self.product_zones))[:count]]
        node = door.node
        mover.steps.append(("walk", [np.array(plan.nodes[node])]))
        for zone in chosen:
            assert zone.approach is not None
            mover.steps.append(("walk", [*plan.route(node, zone.approach)[1:], zone.random_spot(self.rng)]))
            dwell = self.rng.lognormal(math.log(self.cfg.dwell_median(zone.zone_id)), self.cfg.dwell_sigma)
            mover.steps.append(("wait", self._frames(max(dwell, self.cfg.min_dwell_s))))
            mover.steps.append(("walk", [np.array(plan.nodes[zone.approach])]))
            node = zone.approach
        if self.rng.random() < self.cfg.buy_probability:
            mover.steps.append(("walk", plan.route(node, plan.queue_approach)[1:]))
            mover.steps.append(("queue", None))
        else:
            leave = plan.nearest_door(node)
            route = plan.route(node, leave.node)[1:]
            mover.steps.append(
                ("walk", [*route, np.array(leave.outside) + np.array([self.rng.uniform(-0.3, 0.3), 0.0])])
            )
            mover.steps.append(("vanish", None))
        # Recorded with everyone at the end of the frame it arrives in.
        self._add_mover(mover)

    def _spawn_staff(self, cashier: bool) -> None:
        person = self._new_person(STAFF, -1)
        if cashier:
            mover = _Mover(-1, [person], np.array(self.plan.till), 0.0, staff=True)
            mover.steps.append(("wait", 10**9))
        else:
            home = self._staff_home()
            mover = _Mover(-1, [person], home.random_spot(self.rng), self._speed(), staff=True)
        self._add_mover(mover)

    def _staff_home(self) -> SimZone:
        return next(z for z in self.plan.zones_of_kind("staff") if z.approach is not None)

    def _plan_staff(self, mover: _Mover, frame: int, closing: bool) -> None:
        """Rest in the back office, then restock a random product zone, and back; at closing just rest.

        A rest that would end less than a task (and its walks) before a staff break lasts to the break's end.
        """
        home = self._staff_home()
        rest = self._frames(self.rng.exponential(self.cfg.staff_rest_mean_s) + 10.0)
        margin = self._frames(self.cfg.staff_task_s[1] + _STAFF_WALK_MARGIN_S)
        for pause in self.cfg.staff_breaks:
            start, end = math.ceil(pause.start_s / self.dt), math.ceil(pause.end_s / self.dt)
            if frame < end and frame + rest + margin > start:
                rest = max(rest, end - frame)
        mover.steps.append(("wait", rest))
        if closing:
            return
        zone = self.product_zones[int(self.rng.integers(len(self.product_zones)))]
        assert zone.approach is not None and home.approach is not None
        out = [np.array(self.plan.nodes[home.approach]), *self.plan.route(home.approach, zone.approach)[1:]]
        mover.steps.append(("walk", [*out, zone.random_spot(self.rng)]))
        mover.steps.append(("wait", self._frames(self.rng.uniform(*self.cfg.staff_task_s))))
        back = self.plan.route(zone.approach, home.approach)
        mover.steps.append(("walk", [*back, home.random_spot(self.rng)]))

    def _record(self, mover: _Mover, frame: int) -> None:
        x, y = mover.pos.tolist()
        for k, person in enumerate(mover.members):
            dx, dy = _MEMBER_OFFSETS[k]
            self.rec_person.append(person)
            self.rec_frame.append(frame)
            self.rec_x.append(x + dx)
            self.rec_y.append(y + dy)

    def _step(self, mover: _Mover, frame: int, closing: bool) -> None:
        budget = mover.speed * self.dt
        while not mover.gone:
            if not mover.steps:
                if mover.staff:
                    self._plan_staff(mover, frame, closing)
                    if not mover.steps:
                        return
                    continue
                return  # queued: the queue moves it
            kind, arg = mover.steps[0]
            if kind == "walk":
                points: list[FloatArray] = arg  # type: ignore[assignment]
                while points and budget > 0:
                    gap = points[0] - mover.pos
                    dist = float(np.hypot(*gap))
                    if dist <= budget:
                        mover.pos = points.pop(0).astype(np.float64)
                        budget -= dist
                    else:
                        mover.pos = mover.pos + gap * (budget / dist)
                        budget = 0.0
                if points:
                    return
                mover.steps.popleft()
            elif kind == "wait":
                if mover.wait_until < 0:
                    mover.wait_until = frame + int(arg)  # type: ignore[call-overload]
                if frame < mover.wait_until:
                    return
                mover.wait_until = -1
                mover.steps.popleft()
                budget = 0.0  # a wait ends at a frame; walking resumes on the next
            elif kind == "queue":
                mover.steps.popleft()
                if len(self.queue) >= self._balk_at:  # the queue is full: give up, walk out without buying
                    leave = self.plan.nearest_door(self.plan.queue_approach)
                    route = self.plan.route(self.plan.queue_approach, leave.node)[1:]
                    mover.steps.appendleft(("vanish", None))
                    mover.steps.appendleft(("walk", [*route, np.array(leave.outside)]))
                    continue
                mover.queued = True
                self.queue.append(mover)
                x, y = mover.pos.tolist()
                self.checkout.join(x, y, mover.speed * self.dt, mover.members, list(_MEMBER_OFFSETS))
                return
            elif kind == "serve":
                mover.steps.popleft()
                mover.steps.appendleft(("served", None))
                mover.steps.appendleft(("wait", arg))
            elif kind == "served":
                mover.steps.popleft()
                self.counter_free = True
                self.purchases.append((frame, mover.index))
            elif kind == "vanish":
                mover.gone = True
                return
            else:  # pragma: no cover - steps are built above
                raise AssertionError(kind)

    def _step_queue(self, frame: int) -> None:
        if self.checkout.advance() and self.queue[0].at_head_since < 0:
            self.queue[0].at_head_since = frame
        if self.queue and self.counter_free:
            head = self.queue[0]
            if head.at_head_since >= 0 and frame - head.at_head_since >= self._frames(self.cfg.head_wait_s):
                self.queue.pop(0)
                head.pos = np.array(self.checkout.pop_head())
                head.queued = False
                # Back among the movers at its place in the step order (it draws nothing from here on).
                bisect.insort(self.movers, head, key=lambda m: m.seq)
                self.counter_free = False
                service = max(self.rng.exponential(self.cfg.service_mean_s), self.cfg.min_service_s)
                head.steps.append(("walk", [np.array(self.plan.counter)]))
                head.steps.append(("serve", self._frames(service)))
                head.steps.append(("walk", [np.array(p) for p in self.plan.exit_path]))
                head.steps.append(("vanish", None))

    def run(self) -> Trajectories:
        cfg = self.cfg
        arrivals = deque(enumerate(self._arrivals()))
        first_burst_party = len(arrivals)
        bursts = deque(self._burst_arrivals())
        burst_parties = 0
        for _ in range(cfg.cashiers):
            self._spawn_staff(cashier=True)
        for _ in range(cfg.floor_staff):
            self._spawn_staff(cashier=False)
        for mover in self.movers:
            self._record(mover, 0)
        frame = 0
        last_arrival = math.ceil(cfg.duration_s / self.dt)
        limit = last_arrival + self._frames(cfg.max_extra_s)
        while True:
            frame += 1
            closing = frame >= last_arrival
            for mover in self.movers:
                if not mover.gone and not mover.queued:
                    self._step(mover, frame, closing)
            self._step_queue(frame)
            while arrivals and arrivals[0][1] <= frame:
                party, _ = arrivals.popleft()
                self._spawn_party(frame, party)
            while bursts and bursts[0][0] <= frame:
                self._spawn_burst_party(first_burst_party + burst_parties, cfg.bursts[bursts.popleft()[1]])
                burst_parties += 1
            # Gone movers never come back, queued ones are moved by the queue: dropping both keeps each frame's
            # Python work to the people walking or waiting (the order of the rest, which fixes the order of
            # random draws, is unchanged).
            self.movers = [m for m in self.movers if not m.gone and not m.queued]
            for mover in self.movers:
                self._record(mover, frame)
            if self.queue:
                person, xs, ys = self.checkout.rows()
                self.queue_rows.append((person, xs, ys, frame))
            customers_left = bool(self.queue) or any(not m.staff for m in self.movers)
            if (closing and not customers_left and not arrivals and not bursts) or frame >= limit:
                break
        end = frame + 1  # staff clock out: nobody is seen from here on
        n_frames = end + self._frames(cfg.tail_s)
        frame_col, xy, offsets = self._rows()
        purchases = np.array(self.purchases, dtype=np.int64).reshape(-1, 2)
        return Trajectories(self.dt, n_frames, frame_col, xy, offsets, np.array(self.kinds, dtype=np.int8),
                            np.array(self.parties, dtype=np.int64), purchases)  # fmt: skip

    def _rows(self) -> tuple[IntArray, FloatArray, IntArray]:
        """Every recorded row sorted by person, then frame: frame (n,), xy (n, 2) metres, offsets (P + 1,)."""
        chunks = self.queue_rows
        person = np.concatenate([np.array(self.rec_person, dtype=np.int64), *(c[0] for c in chunks)])
        frame = np.concatenate([np.array(self.rec_frame, dtype=np.int64),
                                *(np.full(len(c[0]), c[3], dtype=np.int64) for c in chunks)])  # fmt: skip
        x = np.concatenate([np.array(self.rec_x, dtype=np.float64), *(c[1] for c in chunks)])
        y = np.concatenate([np.array(self.rec_y, dtype=np.float64), *(c[2] for c in chunks)])
        order, offsets = group_rows_by_person(person, frame, len(self.kinds))
        xy = np.empty((len(order), 2))
        xy[:, 0], xy[:, 1] = x[order], y[order]
        return frame[order], xy, offsets
