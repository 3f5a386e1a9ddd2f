"""ops/deploy: the hub's compose file and the edge box's systemd units, checked against what they run.

No Docker engine (and no ClickHouse server) runs on the development machine, so nothing here starts a
container: the compose file is validated against the Compose Specification's JSON Schema
(ops/deploy/schema, vendored), and every part of it against the code and files it names: the mounted
files exist, the hub's NATS configs are what the topology generates, the ClickHouse configs describe the
replicas compose runs, every footfall command parses with footfall's own CLI, the projectors cover every
projection once with no shared consumer, Prometheus scrapes ports the services serve, and the Grafana
dashboard's SQL runs in chDB over the tables footfall creates (and that the cluster DDL distributes).
"""

from __future__ import annotations

import argparse
import configparser
import hashlib
import json
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from ops.cli import build_parser
from ops.serve.config import load_serve_config, parse_listen
from projections.cluster_ddl import cluster_ddl, footfall_statements
from projections.migrations import migrate
from projections.registry import PROJECTIONS, make
from projections.shared_read import shared_key
from projections.store import ChdbStore, StoreError
from stream.topology import Topology, load_topology, write_server_configs

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "ops" / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
SCHEMA = DEPLOY / "schema" / "compose-spec.json"
CLICKHOUSE_IMAGE = "clickhouse/clickhouse-server"
KEEPER_IMAGE = "clickhouse/clickhouse-keeper"
NATS_EXPORTER_IMAGE = "natsio/prometheus-nats-exporter"
NATS_EXPORTER_PORT = 7777  # the exporter's default listen port
CLICKHOUSE_NATIVE_PORT = 9000
CLICKHOUSE_HTTP_PORT = 8123
SYSTEMD = DEPLOY / "systemd"
UNITS = ("footfall-leaf.service", "footfall-edge.service")
INSTALLED_FOOTFALL = "/opt/footfall/venv/bin/footfall"


# --- reading the files ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def topology() -> Topology:
    return load_topology(DEPLOY / "nats" / "topology.toml")


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def image(service: dict[str, Any]) -> str:
    return str(service.get("image", "")).rsplit(":", 1)[0]


def argv(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def footfall_argv(service: dict[str, Any]) -> list[str] | None:
    """The footfall command line a service runs (entrypoint footfall + command, or `sh -c "footfall ..."`
    up to a redirection), or None when it runs something else."""
    entrypoint = argv(service.get("entrypoint"))
    if not entrypoint:
        return argv(service.get("command")) if service.get("build") or image(service) == "footfall" else None
    if entrypoint[:2] == ["sh", "-c"] and entrypoint[2].startswith("footfall "):
        words = shlex.split(entrypoint[2])[1:]
        return words[: words.index(">")] if ">" in words else words
    return None


def parse_footfall(words: list[str], where: str) -> argparse.Namespace:
    """Parse with footfall's own CLI: an unknown flag, a bad choice or a missing argument fails here."""
    try:
        return build_parser().parse_args(words)
    except SystemExit:
        pytest.fail(f"{where}: `footfall {shlex.join(words)}` is not a valid footfall command line (see stderr)")


def footfall_services(compose: dict[str, Any]) -> dict[str, argparse.Namespace]:
    out = {}
    for name, service in services(compose).items():
        words = footfall_argv(service)
        if words is not None:
            out[name] = parse_footfall(words, f"compose service {name}")
    return out


def mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of every volume entry; a bind's source starts with . or /."""
    out = []
    for entry in service.get("volumes", []):
        if isinstance(entry, str):
            source, target = entry.split(":")[:2]
        else:
            source, target = entry.get("source", ""), entry["target"]
        out.append((source, target))
    return out


def bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> the repository file bound there."""
    return {target: (DEPLOY / source).resolve() for source, target in mounts(service) if source[:1] in "./"}


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def xml_root(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


# --- the compose file ----------------------------------------------------------------------------------


def test_compose_file_is_valid_under_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    recorded = re.search(r"sha256\s+`([0-9a-f]{64})`", (SCHEMA.parent / "README.md").read_text())
    assert recorded is not None and recorded.group(1) == hashlib.sha256(SCHEMA.read_bytes()).hexdigest(), (
        f"{SCHEMA} is not the file its README.md describes"
    )
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors)


def test_every_named_volume_is_declared_and_every_file_mounted_or_built_from_exists(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in services(compose).items():
        for source, target in mounts(service):
            if source[:1] in "./":
                assert (DEPLOY / source).exists(), f"{name} mounts {source} (at {target}): no such file in the repo"
            else:
                assert source in declared, f"{name} mounts volume {source!r}, not declared under volumes:"
        for env_file in argv(service.get("env_file")):
            assert (DEPLOY / env_file).is_file(), f"{name}: env_file {env_file} does not exist"
        build = service.get("build")
        if build is None:
            continue
        context = DEPLOY / (build if isinstance(build, str) else build.get("context", "."))
        dockerfile = context / (build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile")
        assert context.is_dir(), f"{name}: build context {context} is not a directory"
        assert dockerfile.is_file(), f"{name}: Dockerfile {dockerfile} does not exist"
        for line in dockerfile.read_text().splitlines():
            words = line.split()
            if not words or words[0].upper() not in ("COPY", "ADD") or any(w.startswith("--from") for w in words):
                continue
            for source in (w for w in words[1:-1] if not w.startswith("--")):
                assert (context / source).exists(), f"{dockerfile.name}: {line.strip()!r}: {source} is not in the repo"


def test_the_footfall_image_installs_the_project_and_fetches_nothing_at_run_time() -> None:
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    dockerfile = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    assert re.search(r"^RUN pip install \.", dockerfile, re.M), "the image installs footfall from the repository"
    assert "models fetch" not in dockerfile and not re.search(r"\b(curl|wget)\b", dockerfile)
    assert re.search(r'^ENTRYPOINT \["footfall"\]', dockerfile, re.M)


def test_every_footfall_command_in_the_compose_file_parses_with_footfall_s_cli(compose: dict[str, Any]) -> None:
    commands = footfall_services(compose)
    assert {"serve", "log-init", "log-watch", "clickhouse-ddl"} <= set(commands)
    assert any(ns.command == "project" for ns in commands.values())


# --- the log ------------------------------------------------------------------------------------------


def test_the_hub_runs_the_configs_its_topology_generates(
    compose: dict[str, Any], topology: Topology, tmp_path: Path
) -> None:
    generated = {p.name: p.read_text() for p in write_server_configs(topology, tmp_path, source="topology.toml")}
    svc = services(compose)
    nats_servers = {n for n, s in svc.items() if argv(s.get("entrypoint"))[:1] == ["nats-server"]}
    assert nats_servers == {s.host for s in topology.hub.servers}, "one nats-server service per hub server, by host"
    for server in topology.hub.servers:
        service = svc[server.host]
        assert service.get("hostname", server.host) == server.host
        command = argv(service.get("command"))
        assert command[:1] in (["-c"], ["--config"]), f"{server.host}: nats-server -c CONFIG"
        mounted = bind_mounts(service).get(command[1])
        assert mounted is not None, f"{server.host}: its config {command[1]} is not mounted from the repo"
        expected = f"hub-{server.name}.conf"
        assert mounted.name == expected, f"{server.host} runs {mounted.name}, the topology generates {expected}"
        assert mounted.read_text() == generated[expected], (
            f"{mounted} differs from what footfall log config generates from topology.toml"
        )
        assert server.store_dir in {t for _, t in mounts(service)}, f"{server.host}: no volume at {server.store_dir}"
        published = {str(p).rsplit(":", 1)[-1] for p in service.get("ports", [])}
        assert str(server.leafnode_port) in published, f"{server.host}: the stores' leaves dial its leaf node port"
        if server.monitor_port is not None:
            healthcheck = " ".join(argv(service["healthcheck"]["test"]))
            assert f"http://{server.host}:{server.monitor_port}/healthz" in healthcheck
    for name in ("log-init", "log-watch"):
        topology_mounts = [p for p in bind_mounts(svc[name]).values() if p.name == "topology.toml"]
        assert topology_mounts == [DEPLOY / "nats" / "topology.toml"], f"{name} reads ops/deploy/nats/topology.toml"


def _hub_client_urls(topology: Topology) -> set[str]:
    return {f"nats://{s.host}:{s.client_port}" for s in topology.hub.servers}


def test_projectors_cover_every_projection_once_and_share_no_consumer(
    compose: dict[str, Any], topology: Topology
) -> None:
    commands = footfall_services(compose)
    svc = services(compose)
    runs: dict[str, list[str]] = {}  # service -> the projections it folds from the hub
    for name, ns in commands.items():
        if ns.command == "project":
            runs[name] = list(ns.names) or sorted(PROJECTIONS)
        elif ns.command == "serve":
            runs[name] = list(ns.projection or sorted(PROJECTIONS))
        else:
            continue
        assert ns.url in _hub_client_urls(topology), f"{name}: --url {ns.url} is not a hub server's client URL"
    projectors = [n for n in runs if commands[n].command == "project"]
    assert projectors, "no footfall project service"
    into_cluster = [p for n in projectors for p in runs[n]]
    assert sorted(into_cluster) == sorted(PROJECTIONS), (
        f"the ClickHouse projectors must run every projection exactly once, they run {sorted(into_cluster)}"
    )
    for name in projectors:
        url = environment(svc[name]).get("FOOTFALL_CLICKHOUSE_URL", "")
        # the password is interpolated from .env: read the address after the last @
        address = re.fullmatch(r"([^:/]+):(\d+)/(\w+)", url.rsplit("@", 1)[-1])
        assert url.startswith("http://footfall:") and address is not None, f"{name}: FOOTFALL_CLICKHOUSE_URL {url!r}"
        assert image(svc[address.group(1)]) == CLICKHOUSE_IMAGE and int(address.group(2)) == CLICKHOUSE_HTTP_PORT
        assert address.group(3) == "footfall"
    # serve answers from its own chDB: with FOOTFALL_CLICKHOUSE_URL set it refuses to start.
    for name in (n for n in runs if commands[n].command == "serve"):
        assert "FOOTFALL_CLICKHOUSE_URL" not in environment(svc[name]), f"{name}: serve refuses a ClickHouse server"
    # A projection's durable consumer on the hub is named by the projection, or by the set read together;
    # two processes on one name would take each other's messages.
    consumers: dict[tuple[str, str], str] = {}
    publishers: dict[str, str] = {}
    for name, names in runs.items():
        groups: dict[str, list[str]] = {}
        for projection in names:
            groups.setdefault(make(projection).stream, []).append(projection)
            if getattr(make(projection), "emits_to", None):
                assert projection not in publishers, (
                    f"{projection} publishes derived events: it runs in {publishers[projection]} and {name}"
                )
                publishers[projection] = name
        for stream, members in groups.items():
            durable = f"proj-{members[0] if len(members) == 1 else shared_key(members)}"
            assert (stream, durable) not in consumers, (
                f"{name} and {consumers[(stream, durable)]} would share the consumer {durable} on {stream}"
            )
            consumers[(stream, durable)] = name


def test_serve_runs_with_the_mounted_config(compose: dict[str, Any]) -> None:
    ns = footfall_services(compose)["serve"]
    config = bind_mounts(services(compose)["serve"]).get(str(ns.config))
    assert config is not None, f"serve --config {ns.config} is not mounted from the repo"
    listen = ns.listen or load_serve_config(config).listen
    host, port = parse_listen(listen)
    assert host == "0.0.0.0", "serve listens beyond its container (Prometheus scrapes it)"
    healthcheck = " ".join(argv(services(compose)["serve"]["healthcheck"]["test"]))
    assert f":{port}/readyz" in healthcheck


# --- ClickHouse ---------------------------------------------------------------------------------------


def test_clickhouse_configs_describe_the_replicas_compose_runs(compose: dict[str, Any]) -> None:
    svc = services(compose)
    replicas = {n: s for n, s in svc.items() if image(s) == CLICKHOUSE_IMAGE and "hostname" in s}
    keepers = {n: s for n, s in svc.items() if image(s) == KEEPER_IMAGE}
    assert len(replicas) == 2 and len(keepers) == 1
    cluster_files = {p for s in replicas.values() for p in bind_mounts(s).values() if p.name == "cluster.xml"}
    assert len(cluster_files) == 1, "both replicas mount the same cluster.xml"
    root = xml_root(cluster_files.pop())
    remote_servers = root.find("remote_servers")
    assert remote_servers is not None
    clusters = list(remote_servers)
    assert len(clusters) == 1
    cluster = clusters[0]
    # the DDL the schema step applies is generated for this cluster, and applied on it
    ddl = footfall_services(compose)["clickhouse-ddl"]
    assert ddl.cluster == cluster.tag, f"`footfall schemas ddl --cluster {ddl.cluster}`, remote_servers {cluster.tag}"
    assert f"ON CLUSTER {cluster.tag}" in " ".join(argv(svc["clickhouse-schema"]["entrypoint"]))
    shards = cluster.findall("shard")
    assert len(shards) == 1 and shards[0].findtext("internal_replication") == "true"
    listed = {(r.findtext("host"), int(r.findtext("port") or 0)) for r in shards[0].findall("replica")}
    assert listed == {(s["hostname"], CLICKHOUSE_NATIVE_PORT) for s in replicas.values()}, (
        f"remote_servers lists {sorted(map(str, listed))}, compose runs {sorted(replicas)}"
    )
    # {shard} and {replica} in the DDL's Keeper paths come from each replica's macros
    placeholders = set(re.findall(r"\{(\w+)\}", "\n".join(cluster_ddl(footfall_statements(), cluster.tag))))
    assert placeholders == {"shard", "replica"}
    seen = set()
    for name, service in replicas.items():
        macro_files = [p for t, p in bind_mounts(service).items() if "/config.d/" in t and p.name.startswith("macros")]
        assert len(macro_files) == 1, f"{name} mounts one macros file"
        macros = xml_root(macro_files[0]).find("macros")
        assert macros is not None and {m.tag for m in macros} >= placeholders
        assert macros.findtext("replica") == service["hostname"], f"{name}: {{replica}} is its own host name"
        assert macros.findtext("shard") == "01"
        seen.add(macros.findtext("replica"))
    assert len(seen) == len(replicas)
    ((keeper_name, keeper),) = keepers.items()
    node = root.find("zookeeper/node")
    assert node is not None
    keeper_xml = xml_root(next(p for p in bind_mounts(keeper).values() if p.suffix == ".xml"))
    assert node.findtext("host") == keeper.get("hostname", keeper_name)
    assert node.findtext("port") == keeper_xml.findtext("keeper_server/tcp_port")
    assert keeper_xml.findtext("keeper_server/raft_configuration/server/hostname") == keeper.get("hostname")
    # every user the services log in as is defined, with its password from the environment
    users = {p for s in replicas.values() for p in bind_mounts(s).values() if p.name == "users.xml"}
    assert len(users) == 1
    users_element = xml_root(users.pop()).find("users")
    assert users_element is not None
    defined = {u.tag: u for u in users_element}
    for user in ("footfall", "grafana"):
        password = defined[user].find("password")
        assert password is not None and password.get("from_env") in environment(replicas["clickhouse-1"])


# --- monitoring ---------------------------------------------------------------------------------------


def test_prometheus_scrapes_ports_the_services_serve(compose: dict[str, Any], topology: Topology) -> None:
    svc = services(compose)
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    mounted = bind_mounts(svc["prometheus"]).get("/etc/prometheus/prometheus.yml")
    assert mounted == DEPLOY / "prometheus" / "prometheus.yml"
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    serve = footfall_services(compose)["serve"]
    serve_port = parse_listen(serve.listen or load_serve_config(DEPLOY / "serve" / "serve.toml").listen)[1]
    cluster = xml_root(DEPLOY / "clickhouse" / "cluster.xml")
    serves: dict[str, int] = {"serve": serve_port}
    for name, service in svc.items():
        if image(service) == NATS_EXPORTER_IMAGE:
            serves[name] = NATS_EXPORTER_PORT
        elif image(service) == CLICKHOUSE_IMAGE and cluster.find("prometheus") is not None and "hostname" in service:
            serves[name] = int(cluster.findtext("prometheus/port") or 0)
    for target in targets:
        host, port = target.rsplit(":", 1)
        assert host in svc, f"prometheus scrapes {target}: no such compose service"
        assert serves.get(host) == int(port), f"prometheus scrapes {target}, {host} serves on {serves.get(host)}"
    assert set(serves) == {t.rsplit(":", 1)[0] for t in targets}, "every metrics endpoint is scraped"
    # the hub's monitoring ports (on in the generated configs) each have an exporter
    monitored = {f"http://{s.host}:{s.monitor_port}" for s in topology.hub.servers if s.monitor_port is not None}
    exported = {argv(s["command"])[-1] for s in svc.values() if image(s) == NATS_EXPORTER_IMAGE}
    assert exported == monitored


def test_grafana_provisions_the_clickhouse_datasource_its_dashboards_use(compose: dict[str, Any]) -> None:
    svc = services(compose)
    grafana = svc["grafana"]
    binds = bind_mounts(grafana)
    provisioning = binds["/etc/grafana/provisioning"]
    datasources = yaml.safe_load((provisioning / "datasources" / "clickhouse.yaml").read_text())["datasources"]
    (ds,) = datasources
    plugins = [p.split()[0] for p in environment(grafana)["GF_INSTALL_PLUGINS"].split(",")]
    assert ds["type"] == "grafana-clickhouse-datasource" and ds["type"] in plugins
    assert image(svc[ds["jsonData"]["host"]]) == CLICKHOUSE_IMAGE
    assert ds["jsonData"]["port"] == CLICKHOUSE_NATIVE_PORT and ds["jsonData"]["protocol"] == "native"
    assert ds["jsonData"]["username"] == "grafana" and ds["jsonData"]["defaultDatabase"] == "footfall"
    password = re.fullmatch(r"\$\{(\w+)\}", ds["secureJsonData"]["password"])
    assert password is not None and password.group(1) in environment(grafana)
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "footfall.yaml").read_text())["providers"]
    dashboards_dir = binds.get(provider["options"]["path"])
    assert dashboards_dir is not None and any(dashboards_dir.glob("*.json"))
    for path in dashboards_dir.glob("*.json"):
        for where, source in _datasource_refs(json.loads(path.read_text())):
            assert source == {"type": ds["type"], "uid": ds["uid"]}, f"{path.name} {where}: datasource {source}"


def _datasource_refs(node: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield where, value
            else:
                yield from _datasource_refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _datasource_refs(value, f"{where}[{i}]")


# The grafana-clickhouse-datasource macros the dashboards use, and the template variable, as ClickHouse SQL.
_MACROS = (
    (re.compile(r"\$__timeFilter\((\w+)\)"),
     r"(\1 >= toDateTime(1767225600, 'UTC') AND \1 <= toDateTime(1767312000, 'UTC'))"),
    (re.compile(r"\$__timeInterval\((\w+)\)"), r"toStartOfInterval(toDateTime(\1), INTERVAL 300 second)"),
    (re.compile(r"\$\{store\}"), "store-a"),
)  # fmt: skip
_TREE_TABLE_RE = re.compile(r"^\s*TABLE id: \d+.*?, table_name: ([^,\s]+)", re.MULTILINE)


def _dashboard_queries() -> Iterator[tuple[str, str]]:
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                yield f"{path.name} panel {panel['title']!r}", target["rawSql"]
        for variable in dashboard.get("templating", {}).get("list", []):
            if variable.get("type") == "query":
                yield f"{path.name} variable {variable['name']!r}", variable["query"]


def _expand(sql: str) -> str:
    for pattern, replacement in _MACROS:
        sql = pattern.sub(replacement, sql)
    return sql


def test_dashboard_sql_reads_only_tables_footfall_creates(chdb_session: ChdbStore, store: ChdbStore) -> None:
    # The tables as footfall creates them: the runner's migrations, then each projection's own DDL.
    migrate(store)
    for name in sorted(PROJECTIONS):
        projection = make(name)
        for table, ddl in projection.table_ddl().items():
            store.execute(ddl.format(db=store.database, table=table))
        for ddl in getattr(projection, "view_ddl", dict)().values():
            store.execute(ddl.format(db=store.database))
    created = {r[0] for r in store.query_rows(f"SELECT name FROM system.tables WHERE database = '{store.database}'")}
    # Grafana reads the cluster: the Distributed tables of `footfall schemas ddl`.
    distributed = set(re.findall(r"CREATE TABLE IF NOT EXISTS footfall\.(\w+) ON CLUSTER \w+ AS ",
                                 "\n".join(cluster_ddl(footfall_statements(), "footfall_cluster"))))  # fmt: skip
    queries = list(_dashboard_queries())
    assert len(queries) >= 5
    # The datasource's default database is footfall: unqualified names resolve in the test's database.
    store.execute(f"USE {store.database}")
    try:
        for where, raw in queries:
            sql = _expand(raw)
            assert "$" not in sql, f"{where}: a macro or variable this test does not expand: {sql}"
            try:
                tree = store.query_text(f"EXPLAIN QUERY TREE {sql}", "TSVRaw")
                store.query_rows(sql)  # runs over the (empty) tables: every column and function resolves
            except StoreError as exc:
                pytest.fail(f"{where}: chDB refuses its SQL over footfall's tables: {exc}")
            tables = _TREE_TABLE_RE.findall(tree)
            assert tables, f"{where}: reads no table"
            for qualified in tables:
                database, _, table = qualified.partition(".")
                assert database == store.database and table in created, (
                    f"{where}: reads {qualified}, not a table footfall creates"
                )
                assert table in distributed, f"{where}: reads {table}, which the cluster DDL does not create"
    finally:
        store.execute(f"USE {chdb_session.database}")


# --- the edge box -------------------------------------------------------------------------------------


def _unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=True, delimiters=("=",), comment_prefixes=("#", ";"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string((SYSTEMD / name).read_text(), source=name)
    return parser


def _edge_env() -> dict[str, str]:
    lines = (SYSTEMD / "edge.env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def _exec_start(name: str) -> list[str]:
    """ExecStart's words as systemd expands them from the example environment file: ${VAR} one word,
    $VAR split on whitespace."""
    env = _edge_env()
    words = []
    for word in shlex.split(_unit(name)["Service"]["ExecStart"]):
        unbraced = re.fullmatch(r"\$(\w+)", word)
        if unbraced:
            words += env[unbraced.group(1)].split()
            continue
        expanded = word
        for var in re.findall(r"\$\{(\w+)\}", word):
            assert var in env, f"{name} uses ${{{var}}}, which edge.env.example does not set"
            expanded = expanded.replace(f"${{{var}}}", env[var])
        words.append(expanded)
    return words


@pytest.mark.parametrize("name", UNITS)
def test_systemd_unit_runs_footfall_restarted_and_confined(name: str) -> None:
    service = _unit(name)["Service"]
    assert service["User"] == "footfall" and service.get("Group") == "footfall", "a dedicated user, not root"
    assert service["Restart"] in ("always", "on-failure")
    assert service["EnvironmentFile"] == "/etc/footfall/edge.env"
    for key, allowed in (("NoNewPrivileges", {"yes", "true"}), ("ProtectSystem", {"strict"}),
                         ("ProtectHome", {"yes", "true", "read-only"}), ("PrivateTmp", {"yes", "true"}),
                         ("ProtectKernelTunables", {"yes"}), ("ProtectControlGroups", {"yes"})):  # fmt: skip
        assert service.get(key) in allowed, f"{name}: {key}={service.get(key)}, expected one of {sorted(allowed)}"
    assert service.get("CapabilityBoundingSet") == "", f"{name}: no capabilities"
    assert "StateDirectory" in service, f"{name}: its data under /var/lib, the one place it may write"
    words = _exec_start(name)
    assert words[0] == INSTALLED_FOOTFALL
    parse_footfall(words[1:], name)


def test_the_edge_runner_publishes_to_its_leaf_as_the_generated_leaf_config_runs_it(topology: Topology) -> None:
    leaf = parse_footfall(_exec_start("footfall-leaf.service")[1:], "footfall-leaf.service")
    edge = parse_footfall(_exec_start("footfall-edge.service")[1:], "footfall-edge.service")
    assert (leaf.command, edge.command) == ("log", "edge")
    env = _edge_env()
    store = next(s for s in topology.stores if s.id == env["FOOTFALL_STORE"])
    conf = (DEPLOY / "nats" / f"leaf-{store.id}.conf").read_text().splitlines()
    generated = json.loads("\n".join(line for line in conf if not line.startswith("#")))
    assert leaf.domain == store.js_domain and edge.store == store.id
    assert leaf.port == generated["port"] and edge.url == f"nats://127.0.0.1:{leaf.port}"
    assert str(leaf.data_dir / "nats") == generated["jetstream"]["store_dir"]
    assert leaf.leaf_of.split(",") == generated["leafnodes"]["remotes"][0]["urls"]
    assert leaf.credentials is not None
    assert leaf.data_dir != edge.data_dir, "the edge's spool is not inside the leaf's store"
    assert len(edge.camera) == len(edge.source) >= 1
    after = _unit("footfall-edge.service")["Unit"]["After"].split()
    assert "footfall-leaf.service" in after
    assert "footfall-leaf.service" not in _unit("footfall-edge.service")["Unit"].get("BindsTo", ""), (
        "the spool bridges a leaf restart: the edge must not stop with it"
    )


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    # verify checks that ExecStart's binary exists: point it at this checkout's footfall.
    footfall = Path(sys.executable).with_name("footfall")
    assert footfall.is_file()
    for name in UNITS:
        (tmp_path / name).write_text((SYSTEMD / name).read_text().replace(INSTALLED_FOOTFALL, str(footfall)))
    result = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / n) for n in UNITS)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if any(n in line for n in UNITS)]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr
