"""`footfall serve` against real clients: clickhouse-connect and plain HTTP, a real nats-server and chDB.

One serve process for the module, started as a user starts it (`python -m ops.cli serve`), over a
simulated half hour of one store: each test reads it as analysts, partners and intruders would.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import clickhouse_connect
import nats
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from ml_core.sim.agents import ShopperConfig
from ops.bench.serve import footfall_command, footfall_env, serve_process
from ops.serve.config import hash_password
from ops.simulation.pipeline import publish_day
from ops.simulation.simulate import simulate_day
from stream.embedded import EmbeddedNats

STORE = "store-001"
PASSWORDS = {"ana": "ana-secret", "bob": "bob-secret", "pat": "pat-secret"}
VISITS = "SELECT visit_id, started, ended, duration_s FROM visits ORDER BY visit_id"


class Serve:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, data_dir: Path) -> None:
        self.proc, self.port, self.data_dir = proc, port, data_dir

    def client(self, user: str = "ana") -> clickhouse_connect.driver.Client:
        return clickhouse_connect.get_client(host="127.0.0.1", port=self.port, username=user,
                                             password=PASSWORDS.get(user, "wrong"))  # fmt: skip

    def http(self, query: str, *, user: str = "ana", post: bool = False, params: dict[str, str] | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:  # fmt: skip
        args = dict(params or {})
        if not post:
            args["query"] = query
        url = f"http://127.0.0.1:{self.port}/?{urllib.parse.urlencode(args)}"
        auth = base64.b64encode(f"{user}:{PASSWORDS.get(user, 'wrong')}".encode()).decode()
        request = urllib.request.Request(url, data=query.encode() if post else None,
                                         headers={"Authorization": f"Basic {auth}", **(headers or {})})  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read()


async def _publish(url: str) -> None:
    day = simulate_day(3, shopper=ShopperConfig(duration_s=1800.0, parties_per_hour=200.0), cameras=1)
    nc = await nats.connect(url)
    try:
        await publish_day(nc, day)
    finally:
        await nc.close()


def _wait_caught_up(serve: Serve, timeout_s: float = 240.0) -> None:
    """Until every projection's lag is 0 and the visits table is filled and unchanged, three polls running.

    One poll is not enough: the track projections are caught up before the zone processor has published
    every derived event, and the derived streams' readers show lag 0 between its batches.
    """
    deadline = time.monotonic() + timeout_s
    seen: list[int] = []
    while time.monotonic() < deadline:
        assert serve.proc.poll() is None, "serve exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{serve.port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            time.sleep(0.5)
            continue
        lags = [line for line in text.splitlines() if line.startswith("footfall_projection_lag_messages{")]
        if lags and all(line.endswith(" 0.0") for line in lags):
            status, _, body = serve.http("SELECT count() FROM visits")
            if status == 200 and int(body) > 0:
                seen.append(int(body))
                if len(seen) >= 3 and len(set(seen[-3:])) == 1:
                    return
                time.sleep(1.0)
                continue
        seen.clear()
        time.sleep(0.5)
    raise AssertionError("serve did not catch up")


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    root = tmp_path_factory.mktemp("serve")
    config = root / "serve.toml"
    config.write_text(f"""
[limits]
max_result_rows = 5000
max_concurrent_queries = 4

[[users]]
name = "ana"
password_scrypt = "{hash_password(PASSWORDS["ana"])}"

[[users]]
name = "bob"
password_scrypt = "{hash_password(PASSWORDS["bob"])}"
stores = ["store-999"]

[[users]]
name = "pat"
password_scrypt = "{hash_password(PASSWORDS["pat"])}"
role = "partner"
""")
    with EmbeddedNats(root / "nats") as server:
        asyncio.run(_publish(server.url))
        with serve_process(server.url, root / "data", "--config", str(config), output=subprocess.PIPE) as (proc, port):
            handle = Serve(proc, port, root / "data")
            _wait_caught_up(handle)
            yield handle
        output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        assert proc.returncode == 0, output[-3000:]


def test_clickhouse_connect_reads_what_footfall_sql_reads(serve: Serve) -> None:
    client = serve.client()
    rows = client.query(VISITS).result_rows
    assert rows
    frame = client.query_df(VISITS)
    arrow = client.query_arrow(VISITS)
    assert len(frame) == len(rows) == arrow.num_rows
    assert list(frame["visit_id"]) == [r[0] for r in rows] == arrow.column("visit_id").to_pylist()
    # The same query through `footfall sql`, which reaches serve through the data directory's socket.
    result = subprocess.run(footfall_command("sql", "--data-dir", str(serve.data_dir), "--format", "TSV",
                                      "SELECT visit_id, toUnixTimestamp64Nano(started) FROM visits ORDER BY visit_id"),
                            env=footfall_env(), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    via_socket = [line.split("\t") for line in result.stdout.splitlines()]
    via_http = client.query("SELECT visit_id, toUnixTimestamp64Nano(started) FROM visits ORDER BY visit_id")
    assert via_socket == [[v, str(t)] for v, t in via_http.result_rows]


def test_plain_http_get_post_formats_headers_and_compression(serve: Serve) -> None:
    status, headers, body = serve.http("SELECT count() AS n FROM visits FORMAT JSONEachRow", params={"query_id": "q-1"})
    assert status == 200 and body.startswith(b'{"n":')
    assert headers["X-ClickHouse-Query-Id"] == "q-1" and headers["X-ClickHouse-Format"] == "JSONEachRow"
    assert "elapsed_ns" in headers["X-ClickHouse-Summary"]
    status, headers, body = serve.http("SELECT 1 AS one", post=True, params={"default_format": "CSVWithNames"})
    assert (status, body) == (200, b'"one"\n1\n')
    status, headers, body = serve.http("SELECT {n:UInt8} * 2", params={"param_n": "21"},
                                       headers={"Accept-Encoding": "gzip"})  # fmt: skip
    assert (status, body, headers.get("Content-Encoding")) == (200, b"42\n", None)  # compression was not asked for
    status, headers, body = serve.http("SELECT {n:UInt8} * 2", params={"param_n": "21", "enable_http_compression": "1"},
                                       headers={"Accept-Encoding": "gzip"})  # fmt: skip
    assert status == 200 and headers["Content-Encoding"] == "gzip" and gzip.decompress(body) == b"42\n"
    # X-ClickHouse-User/Key instead of basic auth
    keys = {"X-ClickHouse-User": "ana", "X-ClickHouse-Key": PASSWORDS["ana"]}
    request = urllib.request.Request(f"http://127.0.0.1:{serve.port}/?query=SELECT%20currentDatabase()", headers=keys)
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.read() == b"footfall\n"


def _refused(serve: Serve, user: str, query: str) -> tuple[int, str]:
    client_error = None
    try:
        client = serve.client(user)
        client.query(query)
    except DatabaseError as exc:
        client_error = str(exc)
    assert client_error is not None, f"{user} ran {query!r}"
    status, headers, body = serve.http(query, user=user)
    assert status >= 400 and body.startswith(b"Code: "), body
    assert headers["X-ClickHouse-Exception-Code"] in client_error
    return status, body.decode()


@pytest.mark.parametrize(
    ("user", "query", "code", "http_status"),
    [
        ("ana", "DROP TABLE visits", "164", 403),  # DDL
        ("ana", "INSERT INTO visits (visit_id) VALUES ('x')", "164", 403),  # a write
        ("ana", "CREATE TABLE footfall.t (x UInt8) ENGINE = Memory", "164", 403),
        ("ana", "SET max_result_rows = 0", "164", 403),  # the limits cannot be lifted
        ("ana", "SELECT * FROM system.users", "497", 403),  # config that leaks
        ("ana", "SELECT * FROM system.server_settings", "497", 403),
        ("ana", "SELECT file('/etc/hostname')", "497", 403),  # files of the host
        ("ana", "SELECT * FROM merge('footfall', '^visits$')", "497", 403),  # around the row filters
        ("ana", "SELECT 1; DROP TABLE visits", "62", 400),  # one statement per query
        ("ana", "SELECT number FROM numbers(100000)", "396", 500),  # past max_result_rows
        ("pat", "SELECT count() FROM visits", "497", 403),  # a partner reads shared_* views only
        ("nobody", "SELECT 1", "516", 401),  # unknown user
    ],
)
def test_what_the_endpoint_refuses(serve: Serve, user: str, query: str, code: str, http_status: int) -> None:
    status, body = _refused(serve, user, query)
    assert (status, body.split(".", 1)[0]) == (http_status, f"Code: {code}"), body


def test_wrong_password_and_nothing_written(serve: Serve) -> None:
    status, headers, body = serve.http("SELECT 1", user="ana", headers={"Authorization": "Basic " + base64.b64encode(
        b"ana:not-her-password").decode()})  # fmt: skip
    assert status == 401 and headers["X-ClickHouse-Exception-Code"] == "516", body
    tables = serve.client().query("SELECT count() FROM system.tables WHERE database = 'footfall' AND name = 't'")
    assert tables.result_rows == [(0,)]


def test_stores_and_roles_are_scoped_by_the_engine(serve: Serve) -> None:
    ana = serve.client("ana").query("SELECT count() FROM visits").result_rows[0][0]
    assert ana > 0
    # bob is granted another store only: every footfall table reads empty for him, views included.
    bob = serve.client("bob")
    assert bob.query("SELECT count() FROM visits").result_rows == [(0,)]
    assert bob.query("SELECT count() FROM (SELECT * FROM visits) WHERE store_id = {s:String}",
                     parameters={"s": STORE}).result_rows == [(0,)]  # fmt: skip
    assert bob.query("SELECT count() FROM shared_heatmap").result_rows == [(0,)]
    # a partner reads the k-anonymous views
    pat = serve.client("pat")
    shared = pat.query("SELECT count() FROM shared_heatmap").result_rows[0][0]
    assert shared == serve.client("ana").query("SELECT count() FROM shared_heatmap").result_rows[0][0]


def test_replay_while_live_answers_the_old_or_the_new_table(serve: Serve) -> None:
    client = serve.client()
    before = client.query(VISITS).result_rows
    answers: list[int] = []
    done = threading.Event()

    def read() -> None:
        reader = serve.client()
        while not done.is_set():
            answers.append(len(reader.query(VISITS).result_rows))

    thread = threading.Thread(target=read)
    thread.start()
    try:
        replay = footfall_command("replay", "footfall", "--data-dir", str(serve.data_dir))
        result = subprocess.run(replay, env=footfall_env(), capture_output=True, text=True, timeout=300)
    finally:
        done.set()
        thread.join()
    assert result.returncode == 0, result.stderr[-3000:]
    assert "while live" in result.stdout
    assert answers and set(answers) == {len(before)}  # never a partial or an empty table
    assert client.query(VISITS).result_rows == before
    swaps = client.query("SELECT status FROM projection_versions WHERE projection_id = 'footfall'").result_rows
    assert ("swapped",) in swaps
    _wait_caught_up(serve)  # the live runner goes on after the swap


def test_the_statement_run_is_the_one_sent_backslashes_and_newlines_included(serve: Serve) -> None:
    query = "SELECT 'a\\\\b' AS x, 'tab\\there' AS y, 'two\nlines' AS z FORMAT JSONEachRow"
    status, _, body = serve.http(query)
    assert (status, body) == (200, b'{"x":"a\\\\b","y":"tab\\there","z":"two\\nlines"}\n')


def test_whatif_is_carried_out_by_serve_while_live(serve: Serve, tmp_path: Path) -> None:
    """`footfall whatif` under the live layout through serve's socket: every measure equals live, the
    scratch version is listed and dropped through serve too, and the live visits are untouched."""
    import json

    import msgspec

    day = simulate_day(3, shopper=ShopperConfig(duration_s=1800.0, parties_per_hour=200.0), cameras=1)
    layout = tmp_path / "live.json"
    layout.write_bytes(msgspec.json.encode(day.layout.layout))
    ts = [e.ts_ns for e in day.events]

    def iso(ns: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns // 1_000_000_000))

    client = serve.client()
    before = client.query(VISITS).result_rows
    command = footfall_command("whatif", "--layout", str(layout), "--from", iso(min(ts)), "--to",
                               iso(max(ts) + 1_000_000_000), "--data-dir", str(serve.data_dir), "--json")  # fmt: skip
    result = subprocess.run(command, env=footfall_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    measures = report["measures"]
    assert measures and all(m["delta"] in (0, None) for m in measures), [m for m in measures if m["delta"]]
    whatif_id = report["whatif_id"]
    listed = subprocess.run(footfall_command("whatif", "list", "--data-dir", str(serve.data_dir)),
                            env=footfall_env(), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert listed.returncode == 0 and whatif_id in listed.stdout, listed.stderr
    dropped = subprocess.run(footfall_command("whatif", "drop", whatif_id, "--data-dir", str(serve.data_dir)),
                             env=footfall_env(), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert dropped.returncode == 0, dropped.stderr
    assert client.query(VISITS).result_rows == before
