"""ops/deploy/nats: the checked-in nats-server configs are what the checked-in topology generates, and valid."""

from __future__ import annotations

from pathlib import Path

from stream.topology import check_server_config, load_topology, write_server_configs

DEPLOY = Path(__file__).resolve().parents[2] / "ops" / "deploy" / "nats"


def test_deploy_configs_are_generated_from_the_topology_and_accepted_by_nats_server(tmp_path: Path) -> None:
    topology = load_topology(DEPLOY / "topology.toml")
    written = write_server_configs(topology, tmp_path, source="topology.toml")
    assert sorted(p.name for p in written) == sorted(p.name for p in DEPLOY.glob("*.conf"))
    for path in written:
        checked_in = DEPLOY / path.name
        assert checked_in.read_text() == path.read_text(), (
            f"{checked_in} is stale: footfall log config --topology {DEPLOY / 'topology.toml'} --out {DEPLOY}"
        )
        check_server_config(checked_in)
