"""Floor plans from files: the shipped plans load, and every check names the field and the value it refuses."""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ml_core.sim.plan import default_plan
from ml_core.sim.plan_file import (
    PLANS_DIR,
    PlanFileError,
    check_spec,
    load_plan,
    parse_plan,
    plan_of,
    resolve_plan,
    shipped_plans,
    spec_of,
)

KIOSK = PLANS_DIR / "kiosk.toml"


def _kiosk() -> dict[str, Any]:
    return tomllib.loads(KIOSK.read_text())


def _error(plan: dict[str, Any], source: str = "plans/big.json") -> str:
    with pytest.raises(PlanFileError) as info:
        parse_plan(json.dumps(plan).encode(), "json", source)
    return str(info.value)


def _zone(plan: dict[str, Any], zone_id: str) -> dict[str, Any]:
    return next(z for z in plan["zones"] if z["id"] == zone_id)


@pytest.mark.parametrize("name", ["kiosk", "large_two_doors"])
def test_shipped_plans_load_and_pass_every_check(name: str) -> None:
    assert name in shipped_plans()
    plan = resolve_plan(name)
    assert spec_of(plan) == spec_of(load_plan(shipped_plans()[name]))
    assert check_spec(spec_of(plan)) == []
    assert {z.kind for z in plan.zones} >= {"entrance", "product", "queue", "checkout", "staff"}
    assert plan.staff_node in plan.nodes


def test_the_large_plan_has_two_doors_six_product_zones_and_room_for_a_15_minute_queue() -> None:
    plan = resolve_plan("large_two_doors")
    assert [d.door_id for d in plan.doors] == ["main", "side"]
    assert len(plan.zones_of_kind("product")) == 6
    # 15 minutes of parties served at the default 30 s each.
    assert len(plan.queue_slots) >= 15 * 60 / 30


def test_toml_and_json_give_the_same_plan(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.json"
    path.write_text(json.dumps(_kiosk()))
    assert spec_of(load_plan(path)) == spec_of(load_plan(KIOSK))


def test_the_default_plan_round_trips_through_the_file_structs() -> None:
    plan = default_plan()
    back = plan_of(spec_of(plan))
    assert back.zones == plan.zones and back.doors == plan.doors and back.edges == plan.edges
    assert back.nodes == plan.nodes and back.exit_path == plan.exit_path and back.staff_node == plan.staff_node
    np.testing.assert_array_equal(back.queue_slots, plan.queue_slots)


def test_party_offsets_match_the_simulators() -> None:
    from ml_core.sim import agents
    from ml_core.sim.plan_file import PARTY_OFFSETS_M

    assert agents._MEMBER_OFFSETS == PARTY_OFFSETS_M


def test_an_edge_to_a_missing_node_names_the_edge_and_the_node() -> None:
    plan = _kiosk()
    plan["edges"].append(["queue-ap", "n9"])
    message = _error(plan)
    assert f'plans/big.json: edges[{len(plan["edges"]) - 1}] ("queue-ap", "n9"): node "n9" does not exist' in message


def test_an_edge_too_close_to_a_zone_names_the_edge_zone_and_gap() -> None:
    plan = _kiosk()
    plan["nodes"]["coffee-ap"] = [4.65, 2.8]  # 0.5 m below the coffee zone (y_min 3.3)
    message = _error(plan)
    assert 'edges[1] ("door", "coffee-ap"): 0.50 m from zone "coffee" (3.9, 3.3, 5.4, 5.7), needs 0.7 m' in message


def test_an_edge_may_come_close_to_a_zone_it_leads_into() -> None:
    plan = _kiosk()
    # A node inside the entrance zone: its edge leads into that zone, and only into it.
    plan["nodes"]["hall"] = [4.2, 1.5]
    plan["edges"].append(["door", "hall"])
    assert check_spec(parse_spec(plan)) == []


def test_a_zone_outside_the_bounds_names_the_zone_and_rect() -> None:
    plan = _kiosk()
    _zone(plan, "snacks")["rect"] = [0.3, 3.3, 3.3, 7.0]
    message = _error(plan)
    assert 'zones[1] "snacks" rect (0.3, 3.3, 3.3, 7): outside the bounds (-0.5, -2.5, 10.5, 6.5)' in message


def test_an_unknown_zone_kind_names_the_field_and_value() -> None:
    plan = _kiosk()
    _zone(plan, "coffee")["kind"] = "shelf"
    message = _error(plan)
    assert 'zones[2].kind "shelf": not a zone kind (one of entrance, product, queue, checkout, staff)' in message


def test_a_queue_slot_outside_the_queue_zone_names_the_slot() -> None:
    plan = _kiosk()
    plan["queue"]["slots"].append([7.75, 6.1])
    message = _error(plan)
    assert 'queue.slots[5] (7.75, 6.1): outside the queue zone "queue" (6.8, 1.9, 8.7, 5.7)' in message


def test_a_slot_whose_party_would_stand_outside_the_queue_zone_is_refused() -> None:
    plan = _kiosk()
    plan["queue"]["slots"][0] = [7.75, 2.2]  # the leader is inside, the member 0.55 m behind is not
    assert 'queue.slots[0] (7.75, 2.2): outside the queue zone "queue"' in _error(plan)


def test_duplicate_zone_ids_name_both_entries() -> None:
    plan = _kiosk()
    twin = copy.deepcopy(_zone(plan, "snacks"))
    plan["zones"].append(twin)
    message = _error(plan)
    assert f'zones[{len(plan["zones"]) - 1}].id "snacks": duplicate zone id (zones[1] has it too)' in message


def test_unknown_fields_and_wrong_types_name_the_path() -> None:
    plan = _kiosk()
    plan["zones"][0]["colour"] = "red"
    assert "plans/big.json: zones[0]: Object contains unknown field `colour`" in _error(plan)
    plan = _kiosk()
    plan["zones"][1]["rect"] = [0.3, "3.3", 3.3, 5.7]
    assert "plans/big.json: zones[1].rect[1]: Expected `float`, got `str`" in _error(plan)


def test_door_checks_name_the_door() -> None:
    plan = _kiosk()
    plan["doors"][0]["outside"] = [4.0, -0.5]
    assert "doors[0].outside (4, -0.5): 0.50 m beyond the door line, needs 1 m" in _error(plan)
    plan = _kiosk()
    plan["doors"][0]["node"] = "nowhere"
    assert 'doors[0].node "nowhere": node "nowhere" does not exist' in _error(plan)
    plan = _kiosk()
    plan["doors"][0]["outside"] = [8.0, -1.8]  # the walk in would miss the door's 2 m
    assert 'doors[0]: the walk from outside (8, -1.8) to node "door" (4, 2.6) does not cross the door line' in (
        _error(plan)
    )


def test_an_unreachable_approach_is_named() -> None:
    plan = _kiosk()
    plan["edges"] = [e for e in plan["edges"] if e != ["coffee-ap", "queue-ap"]]
    assert 'doors[0].node "door": no aisle path to node "queue-ap" (the queue)' in _error(plan)


def test_every_problem_is_reported_one_per_line() -> None:
    plan = _kiosk()
    _zone(plan, "coffee")["kind"] = "shelf"
    _zone(plan, "snacks")["rect"] = [0.3, 3.3, 3.3, 7.0]
    lines = _error(plan, "kiosk.json").splitlines()
    assert len(lines) == 2 and all(line.startswith("kiosk.json: zones[") for line in lines)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(PlanFileError, match=r"nope\.toml: cannot read the plan file"):
        load_plan(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("bounds = [")
    with pytest.raises(PlanFileError, match=r"bad\.toml: not valid TOML"):
        load_plan(bad)
    odd = tmp_path / "plan.yaml"
    odd.write_text("{}")
    with pytest.raises(PlanFileError, match=r"plan\.yaml: a plan file is \.toml or \.json, got 'yaml'"):
        load_plan(odd)


def test_door_side_and_door_choice() -> None:
    plan = resolve_plan("large_two_doors")
    points = np.array([[10.0, 5.0], [10.0, -1.8], [-1.8, 13.0], [10.0, 0.0]])
    assert plan.door_side(points).tolist() == [1.0, -1.0, -1.0, 0.0]
    assert plan.nearest_door("queue-ap").door_id == "main"
    assert plan.nearest_door("bakery-ap").door_id == "side"
    rng = np.random.default_rng(7)
    picks = [plan.entry_door(rng).door_id for _ in range(4000)]
    assert 0.70 < picks.count("main") / len(picks) < 0.80  # weights 3 : 1
    # One door draws nothing: a single-door plan's random stream is what it always was.
    single = default_plan()
    rng, twin = np.random.default_rng(1), np.random.default_rng(1)
    assert single.entry_door(rng) is single.doors[0]
    assert rng.random() == twin.random()


def parse_spec(plan: dict[str, Any]) -> Any:
    import msgspec

    from ml_core.sim.plan_file import PlanSpec

    return msgspec.json.decode(json.dumps(plan).encode(), type=PlanSpec)


def test_the_readme_example_is_the_shipped_kiosk() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("### Your own store") :]
    example = section[section.index("```toml\n") + len("```toml\n") : section.index("```\n", section.index("```toml"))]
    plan = parse_plan(example.encode(), "toml", "README.md")
    assert spec_of(plan) == spec_of(load_plan(KIOSK))
