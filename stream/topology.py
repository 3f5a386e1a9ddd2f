"""Production topology as config (DESIGN.md §7): a hub cluster of N nats-servers and one leaf node per store.

A `topology.toml` names the hub's servers (ports, store dirs), the stores,
and the log's limits. From it footfall generates each nats-server's config
(`hub_server_config`, `leaf_server_config`) and the hub's streams
(`hub_stream_configs`): FF_TRACKS, FF_STATUS and FF_POS on the hub *source*
the stream of the same name in every store's leaf domain
(`external.api = $JS.<domain>.API`), so a store keeps writing to its own leaf
while the WAN is down and the hub catches up when it returns ("delayed, not
lost"). The leaf's own streams (`leaf_stream_configs`) are the hub's
definitions (stream/provision.py) narrowed to the store's subjects.

The leaf-to-hub link denies `ff.>` both ways: without that, the hub's stream
subjects would draw every edge publish over the link as well (stored twice,
acked twice, and out of order against the sourced catch-up after a cut).
Only JetStream's own API and sourcing traffic cross it.

Optional `[auth]` puts the hub's streams in one account with an admin, a
projector and a user per store leaf (`PROJECTOR_PERMISSIONS`,
`leaf_permissions`), so the hub itself, not the leaf's own config, keeps a
store to its own subjects; optional `[tls]` verifies certificates on the
hub's client and leaf ports.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Annotated, Any

import msgspec
from nats.js import api as js_api

from schemas.ids import Id
from schemas.subjects import DLQ_PREFIX, PREFIX, STREAM_OF_CHANNEL, Channel, stream_subjects
from stream.embedded import nats_server_binary
from stream.errors import ConfigError
from stream.provision import LogConfig, read_config_file, stream_configs, with_defaults

# Streams written at the store and sourced by the hub; the others (layout, derived, alerts, DLQ) live on the hub.
SOURCED_CHANNELS = (Channel.TRACKS, Channel.STATUS, Channel.POS)
SOURCED_STREAMS = tuple(STREAM_OF_CHANNEL[c] for c in SOURCED_CHANNELS)
# Subjects kept off the leaf link (see the module docstring).
LEAF_LINK_DENY = ("ff.>",)

Port = Annotated[int, msgspec.Meta(ge=1, le=65535, description="TCP port")]
ServerName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
Host = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9.:_-]{1,253}$", description="host name or IP address")]


class HubServer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One server of the hub cluster: its stable name (JetStream's peer identity), listen ports and store dir."""

    name: ServerName
    client_port: Port
    leafnode_port: Port
    store_dir: str
    cluster_port: Port | None = None  # required when the hub has more than one server
    monitor_port: Port | None = None
    host: Host = "127.0.0.1"


class Hub(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The hub cluster: its servers, cluster name and JetStream domain."""

    servers: Annotated[list[HubServer], msgspec.Meta(min_length=1, max_length=9)]
    cluster: ServerName = "footfall-hub"
    domain: Id = "hub"


# Passwords go into URLs (nats://user:password@host) as they are: URL-safe characters only.
Password = Annotated[str, msgspec.Meta(min_length=12, max_length=128, pattern=r"^[A-Za-z0-9._~-]+$")]


class Auth(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The hub's users, all in one account that holds the streams.

    admin: everything (footfall log init, footfall log watch). projector: reads and acks every stream,
    publishes derived events, alerts and dead letters, and cannot change a stream or forge a frame
    (`PROJECTOR_PERMISSIONS`). leaf-<store>: the store's leaf node, allowed only what sourcing its
    streams needs and its own subjects (`leaf_permissions`). ingest (with ingest_password): go-ingest at
    the hub, allowed the source events of the topology's stores and nothing derived (`ingest_permissions`).
    """

    admin_password: Password
    projector_password: Password
    ingest_password: Password | None = None
    account: Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Z0-9_]{0,31}$")] = "FOOTFALL"


class Tls(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """TLS on the hub's client and leaf node ports: the hub servers' certificate and key (PEM; its names
    must cover every hub host), and the CA whose certificates clients and leaves must present."""

    ca_file: str
    cert_file: str
    key_file: str

    def server_block(self) -> dict[str, object]:
        """A nats-server `tls {}` block that also verifies the peer's certificate against the CA."""
        return {"ca_file": self.ca_file, "cert_file": self.cert_file, "key_file": self.key_file, "verify": True}


class StoreNode(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A store and its leaf node's JetStream domain (the store id unless given); leaf_password is the leaf
    user's (needed when the topology has [auth])."""

    id: Id
    domain: Id | None = None
    leaf_password: Password | None = None
    # The leaf's client certificate and key (PEM) for a hub with [tls], signed by its CA.
    leaf_cert_file: str | None = None
    leaf_key_file: str | None = None

    @property
    def leaf_user(self) -> str:
        """The user name the store's leaf connects to the hub as."""
        return f"leaf-{self.id}"

    @property
    def js_domain(self) -> str:
        """The JetStream domain of the store's leaf node."""
        return self.domain or self.id


class Topology(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A production log: the hub, the stores whose leaf streams it sources, and the streams' limits.

    log.replicas is the hub streams' replica count (at most the number of hub servers).
    """

    hub: Hub
    stores: list[StoreNode] = msgspec.field(default_factory=list)
    log: LogConfig = msgspec.field(default_factory=LogConfig)
    auth: Auth | None = None
    tls: Tls | None = None

    def client_urls(self, user: str = "admin") -> list[str]:
        """nats:// URLs of every hub server's client port, as `user` (admin, projector, or ingest when it has a
        password) when there is [auth]."""
        userinfo = ""
        if self.auth is not None:
            passwords = {"admin": self.auth.admin_password, "projector": self.auth.projector_password}
            if self.auth.ingest_password is not None:
                passwords["ingest"] = self.auth.ingest_password
            if user not in passwords:
                raise ConfigError(f"hub user must be one of {sorted(passwords)}, got {user!r}")
            userinfo = f"{user}:{passwords[user]}@"
        return [f"nats://{userinfo}{s.host}:{s.client_port}" for s in self.hub.servers]

    def leafnode_urls(self, store: StoreNode | None = None) -> list[str]:
        """nats-leaf:// URLs of every hub server's leaf node port (a leaf tries them in turn), with the store
        leaf's user and password when there is [auth]."""
        userinfo = ""
        if self.auth is not None and store is not None:
            userinfo = f"{store.leaf_user}:{store.leaf_password}@"
        return [f"nats-leaf://{userinfo}{s.host}:{s.leafnode_port}" for s in self.hub.servers]


_PATH_IN_ERROR = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_PATH_PART = re.compile(r"\.(?P<key>[A-Za-z_][A-Za-z0-9_]*)|\[(?P<index>\d+)\]")


def load_topology(path: Path) -> Topology:
    """Read and check a topology (.toml, or .json); ConfigError names the field, the value found and what was
    expected."""
    return parse_topology(read_config_file(path, "topology"), source=str(path))


def parse_topology(raw: object, source: str = "topology") -> Topology:
    """Convert decoded TOML/JSON into a checked Topology; ConfigError names the field and its value."""
    try:
        topology = msgspec.convert(raw, Topology)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {exc}{_value_at(raw, str(exc))}") from exc
    problems = _problems(topology)
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))
    return msgspec.structs.replace(topology, log=with_defaults(topology.log))


def _value_at(raw: object, message: str) -> str:
    """`, got <value>` for the path msgspec's error names, when the value is there to show."""
    match = _PATH_IN_ERROR.search(message)
    if match is None:
        return ""
    value: Any = raw
    for part in _PATH_PART.finditer(match["path"]):
        try:
            value = value[part["key"]] if part["key"] is not None else value[int(part["index"])]
        except (KeyError, IndexError, TypeError):
            return ""  # a missing field: the message already says which
    return f", got {value!r}"


def _problems(topology: Topology) -> list[str]:
    """What the types cannot say: uniqueness, replicas against cluster size, ports a cluster needs."""
    out: list[str] = []
    servers = topology.hub.servers
    names = [s.name for s in servers]
    for name in sorted({n for n in names if names.count(n) > 1}):
        out.append(f"hub.servers: name {name!r} is used twice (JetStream knows a peer by its name)")
    seen: dict[tuple[str, int], str] = {}
    for i, server in enumerate(servers):
        ports = {"client_port": server.client_port, "leafnode_port": server.leafnode_port}
        ports |= {k: v for k, v in (("cluster_port", server.cluster_port), ("monitor_port", server.monitor_port)) if v}
        for field, port in ports.items():
            where = f"hub.servers[{i}].{field}"
            if (server.host, port) in seen:
                out.append(f"{where}: port {port} on {server.host} is already {seen[server.host, port]}")
            seen[server.host, port] = where
        if len(servers) > 1 and server.cluster_port is None:
            out.append(f"hub.servers[{i}].cluster_port: a hub of {len(servers)} servers needs one, got none")
    if topology.log.replicas > len(servers):
        out.append(f"log.replicas: {topology.log.replicas} is more than the hub's {len(servers)} server(s)")
    ids = [s.id for s in topology.stores]
    for store_id in sorted({i for i in ids if ids.count(i) > 1}):
        out.append(f"stores: id {store_id!r} is listed twice")
    domains = [s.js_domain for s in topology.stores]
    for domain in sorted({d for d in domains if domains.count(d) > 1}):
        out.append(f"stores: domain {domain!r} is used by more than one store")
    if topology.hub.domain in domains:
        out.append(f"stores: domain {topology.hub.domain!r} is the hub's own (hub.domain)")
    if topology.tls is not None:
        for i, store in enumerate(topology.stores):
            if store.leaf_cert_file is None or store.leaf_key_file is None:
                out.append(f"stores[{i}]: a topology with [tls] needs leaf_cert_file and leaf_key_file, got none")
    if topology.auth is not None:
        for i, store in enumerate(topology.stores):
            if store.leaf_password is None:
                out.append(f"stores[{i}].leaf_password: a topology with [auth] needs one for {store.id!r}, got none")
    return out


# What the projector may publish: JetStream's consumer and read API, acks and flow control, and what the
# processors write (derived events, alerts, dead letters). Not: frames, layouts, or any stream change.
PROJECTOR_PERMISSIONS: dict[str, object] = {
    "publish": {
        "allow": [
            "$JS.API.INFO",
            "$JS.API.STREAM.INFO.>",
            "$JS.API.STREAM.NAMES",
            "$JS.API.STREAM.LIST",
            "$JS.API.STREAM.MSG.GET.>",
            "$JS.API.DIRECT.GET.>",
            "$JS.API.CONSUMER.>",
            "$JS.ACK.>",
            "$JS.FC.>",
            f"{PREFIX}.*.{Channel.ZONES.value}",
            f"{PREFIX}.*.{Channel.ALERTS.value}",
            f"{DLQ_PREFIX}.>",
        ]
    },
    "subscribe": {"allow": ["_INBOX.>"]},
}


def ingest_permissions(topology: Topology) -> dict[str, object]:
    """go-ingest's permissions at the hub: publish the source events (frames, closed tracks, status, layouts,
    POS) of the topology's stores, and look the streams up for /readyz; nothing derived (zone events and
    alerts come from the processors alone), no other store, no consumer, no stream change.

    go-ingest refuses derived events itself and each token covers its stores (go-ingest/ingest); this is the
    same scoping enforced by the server, for a go-ingest with a token file wider than it should be.
    """
    sources = []
    for store in topology.stores:
        own = f"{PREFIX}.{store.id}"
        sources += [f"{own}.*.{Channel.TRACKS.value}", f"{own}.*.{Channel.STATUS.value}",
                    f"{own}.{Channel.LAYOUT.value}", f"{own}.{Channel.POS.value}"]  # fmt: skip
    return {
        "publish": {"allow": ["$JS.API.INFO", "$JS.API.STREAM.INFO.>", *sources]},
        "subscribe": {"allow": ["_INBOX.>"]},
    }


def leaf_permissions(store: StoreNode) -> dict[str, object]:
    """A store leaf's permissions on the hub, from the leaf's side: what it may send and receive.

    Sourcing needs the hub to reach the leaf's JetStream API ($JS.<domain>.API, received) and flow control
    ($JS.FC, received), and the leaf to answer (API replies $JSC.R, inbox replies) and deliver ($JS.S).
    The leaf may send its own store's subjects and nothing of another's, and receives no ff. subject at all,
    so it reads nothing of another store; the hub's own JetStream API ($JS.<hub>.API) stays out of reach.
    """
    return {
        "publish": {"allow": [f"{PREFIX}.{store.id}.>", "$JS.S.>", "$JSC.R.>", "_INBOX.>"]},
        "subscribe": {"allow": [f"$JS.{store.js_domain}.API.>", "$JS.FC.>", "$LDS.>"]},
    }


# bcrypt's cost in the hub's configs: nats-server's own mkpasswd uses 11 (about 0.1 s a check, once per connect).
BCRYPT_COST = 11
_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT64 = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def password_hash(user: str, password: str) -> str:
    """The bcrypt hash nats-server checks `password` against (`$2a$`, as its mkpasswd writes), so a hub's
    config holds no password a reader could use.

    The salt is derived from the user and the password rather than drawn at random: generating the configs
    again gives the same files (no diff for config management to push), two users with one password still
    get different hashes, and nothing about a salt known only with the password helps an attacker who has
    the hash and must still guess the password.
    """
    import base64
    import hashlib

    import bcrypt

    digest = hashlib.blake2b(password.encode(), key=user.encode(), digest_size=16, person=b"footfall-nats").digest()
    salt = base64.b64encode(digest)[:22].translate(bytes.maketrans(_B64, _BCRYPT64))
    return bcrypt.hashpw(password.encode(), b"$2a$%02d$" % BCRYPT_COST + salt).decode()


def _accounts(topology: Topology) -> dict[str, object]:
    auth = topology.auth
    assert auth is not None
    users: list[dict[str, object]] = [
        {"user": "admin", "password": password_hash("admin", auth.admin_password)},
        {"user": "projector", "password": password_hash("projector", auth.projector_password),
         "permissions": PROJECTOR_PERMISSIONS},
    ]  # fmt: skip
    if auth.ingest_password is not None:
        users.append({"user": "ingest", "password": password_hash("ingest", auth.ingest_password),
                      "permissions": ingest_permissions(topology)})  # fmt: skip
    users += [
        {"user": s.leaf_user, "password": password_hash(s.leaf_user, s.leaf_password or ""),
         "permissions": leaf_permissions(s)}
        for s in topology.stores
    ]  # fmt: skip
    return {auth.account: {"jetstream": "enabled", "users": users}}


# -- nats-server configs --------------------------------------------------------------------------------


def render_server_config(config: dict[str, object], header: str) -> str:
    """A nats-server config file: NATS's config language reads JSON, and `#` lines are comments."""
    lines = "".join(f"# {line}\n" for line in header.splitlines())
    return lines + msgspec.json.format(msgspec.json.encode(config), indent=2).decode() + "\n"


def hub_server_config(topology: Topology, index: int) -> dict[str, object]:
    """The nats-server config of hub server `index`: JetStream in the hub's domain, routes to the others."""
    servers = topology.hub.servers
    if not 0 <= index < len(servers):
        raise ConfigError(f"hub server index {index} is out of range: the hub has {len(servers)} server(s)")
    me = servers[index]
    # Leaves dial the URLs the topology gives them (every hub server's, through whatever fronts the hub);
    # advertised addresses are the servers' own, which a store often cannot reach.
    leafnodes: dict[str, object] = {"host": me.host, "port": me.leafnode_port, "no_advertise": True}
    config: dict[str, object] = {
        "server_name": me.name,
        "host": me.host,
        "port": me.client_port,
        "jetstream": {"store_dir": me.store_dir, "domain": topology.hub.domain},
        "leafnodes": leafnodes,
    }
    if me.monitor_port is not None:
        config["http"] = f"{me.host}:{me.monitor_port}"
    if topology.auth is not None:
        config["accounts"] = _accounts(topology)
    if topology.tls is not None:
        # Client and leaf connections cross networks footfall does not own; routes stay inside the hub's.
        config["tls"] = topology.tls.server_block()
        leafnodes["tls"] = topology.tls.server_block()
    if len(servers) > 1:
        config["cluster"] = {
            "name": topology.hub.cluster,
            "host": me.host,
            "port": me.cluster_port,
            "routes": [f"nats-route://{s.host}:{s.cluster_port}" for s in servers if s is not me],
        }
    return config


def leaf_server_config(
    domain: str,
    hub_leafnode_urls: list[str],
    *,
    credentials: Path | None = None,
    tls: dict[str, str] | None = None,
    host: str | None = None,
    port: int | None = None,
    store_dir: str | None = None,
    server_name: str | None = None,
) -> dict[str, object]:
    """The nats-server config of a store's leaf node: JetStream in its own domain, a remote to the hub.

    Settings given as None are left out, for the command line to set (`footfall log serve` picks a free
    port and names the server itself). tls: ca_file, cert_file and key_file for a hub with [tls].
    """
    if not hub_leafnode_urls:
        raise ConfigError("a leaf node needs at least one hub leafnode URL (nats-leaf://host:port), got none")
    remote: dict[str, object] = {
        "urls": list(hub_leafnode_urls),
        "deny_exports": list(LEAF_LINK_DENY),
        "deny_imports": list(LEAF_LINK_DENY),
    }
    if credentials is not None:
        remote["credentials"] = str(credentials)
    if tls is not None:  # ca_file, cert_file, key_file: the hub's CA and this leaf's certificate
        remote["tls"] = dict(tls)
    # An edge box loses power more often than a data centre: fsync every write, so what the leaf has
    # acknowledged survives a power cut, not only a crash of the server (40 frames/s is cheap to sync).
    jetstream: dict[str, object] = {"domain": domain, "sync_interval": "always"}
    if store_dir is not None:
        jetstream["store_dir"] = store_dir
    config: dict[str, object] = {}
    if server_name is not None:
        config["server_name"] = server_name
    if host is not None:
        config["host"] = host
    if port is not None:
        config["port"] = port
    config["jetstream"] = jetstream
    config["leafnodes"] = {"remotes": [remote]}
    return config


def leaf_tls(topology: Topology, store: StoreNode) -> dict[str, str] | None:
    """The leaf remote's tls block for a hub with [tls] (its CA, the store's certificate), else None."""
    if topology.tls is None or store.leaf_cert_file is None or store.leaf_key_file is None:
        return None
    return {"ca_file": topology.tls.ca_file, "cert_file": store.leaf_cert_file, "key_file": store.leaf_key_file}


def to_leaf_url(url: str) -> str:
    """A hub URL as a leaf remote wants it: nats://h:p and bare h:p become nats-leaf://h:p."""
    url = url.strip()
    if "://" not in url:
        return f"nats-leaf://{url}"
    scheme, rest = url.split("://", 1)
    if scheme in ("nats", "nats-leaf"):
        return f"nats-leaf://{rest}"
    if scheme in ("tls", "wss", "ws"):
        return url
    raise ConfigError(f"leaf hub URL {url!r}: expected nats-leaf://, nats://, tls://, ws(s):// or host:port")


def write_server_configs(topology: Topology, out_dir: Path, source: str = "topology.toml") -> list[Path]:
    """Write hub-<name>.conf for every hub server and leaf-<store>.conf for every store; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    header = f"generated by `footfall log config` from {source}; edit the topology, not this file"
    written = []
    for i, server in enumerate(topology.hub.servers):
        path = out_dir / f"hub-{server.name}.conf"
        path.write_text(render_server_config(hub_server_config(topology, i), header))
        written.append(path)
    for store in topology.stores:
        path = out_dir / f"leaf-{store.id}.conf"
        leaf = leaf_server_config(
            store.js_domain,
            topology.leafnode_urls(store),
            tls=leaf_tls(topology, store),
            host="127.0.0.1",  # the edge runner on the same box is the leaf's only client
            port=4222,
            store_dir=f"/var/lib/footfall/{store.id}/nats",
            server_name=f"leaf-{store.id}",
        )
        path.write_text(render_server_config(leaf, header))
        written.append(path)
    return written


def check_server_config(path: Path, timeout_s: float = 20.0) -> str:
    """Run `nats-server -t -c path`; return its report, ConfigError with it when the server refuses the file."""
    try:
        result = subprocess.run(
            [str(nats_server_binary()), "-t", "-c", str(path)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,  # a refusal is reported below with the server's own words
        )
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(f"nats-server -t {path} did not answer within {timeout_s} s") from exc
    report = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        raise ConfigError(f"nats-server refuses {path}: {report}")
    return report


# -- streams ------------------------------------------------------------------------------------------


def _store_subjects(channel: Channel, store_id: str) -> list[str]:
    """stream_subjects(channel) narrowed from every store to one: ff.v1.*.… -> ff.v1.<store>.…"""
    wildcard = f"{PREFIX}.*."
    out = []
    for subject in stream_subjects(channel):
        if not subject.startswith(wildcard):
            raise ConfigError(f"stream subject {subject!r} has no store token after {PREFIX}")
        out.append(f"{PREFIX}.{store_id}.{subject[len(wildcard) :]}")
    return out


def leaf_stream_configs(config: LogConfig, store_id: str) -> list[js_api.StreamConfig]:
    """A store leaf's streams: the hub's definitions of FF_TRACKS, FF_STATUS and FF_POS on one replica,
    capturing only this store's subjects."""
    by_name = {c.name: c for c in stream_configs(msgspec.structs.replace(config, replicas=1))}
    out = []
    for channel in SOURCED_CHANNELS:
        stream = by_name[STREAM_OF_CHANNEL[channel]]
        out.append(stream.evolve(subjects=_store_subjects(channel, store_id)))
    return out


def hub_stream_configs(topology: Topology) -> list[js_api.StreamConfig]:
    """Every hub stream; FF_TRACKS, FF_STATUS and FF_POS also source their namesake in each store's leaf domain.

    A source takes only its store's subjects, so a leaf cannot write another store's data into the hub.
    The hub streams keep their own subjects too, for what is published at the hub (go-ingest's POS).
    """
    channel_of = {name: channel for channel, name in STREAM_OF_CHANNEL.items()}
    out = []
    for stream in stream_configs(topology.log):
        if stream.name in SOURCED_STREAMS:
            channel = channel_of[stream.name]
            sources = [
                js_api.StreamSource(
                    name=stream.name,
                    filter_subject=_store_subjects(channel, store.id)[0],
                    external=js_api.ExternalStream(api=f"$JS.{store.js_domain}.API"),
                )
                for store in topology.stores
            ]
            out.append(stream.evolve(sources=sources or None))
        else:
            out.append(stream)
    return out
