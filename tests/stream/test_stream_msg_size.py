"""The streams enforce the 64 KiB privacy bound themselves (max_msg_size), for clients that are not footfall's."""

from __future__ import annotations

import nats.js.errors
import pytest
from nats.js import JetStreamContext
from nats.js import api as js_api

from stream.provision import MAX_STORED_MSG_BYTES, LogConfig, ensure_stream_configs, ensure_streams, stream_configs
from stream.publisher import MAX_PAYLOAD_BYTES

SUBJECTS = {
    "FF_TRACKS": "ff.v1.store-a.cam-0.tracks",
    "FF_DERIVED": "ff.v1.store-a.zones",
    "FF_POS": "ff.v1.store-a.pos",
}


@pytest.mark.parametrize(("stream", "subject"), list(SUBJECTS.items()))
async def test_a_raw_70_kb_message_is_refused_and_a_64_kib_event_is_stored(
    js: JetStreamContext, stream: str, subject: str
) -> None:
    await ensure_streams(js, LogConfig())
    with pytest.raises(nats.js.errors.APIError) as info:
        await js.publish(subject, b"\0" * 70_000)  # e.g. a JPEG from a client that skipped footfall's publisher
    assert "maximum" in str(info.value.description), info.value
    ack = await js.publish(subject, b"\0" * MAX_PAYLOAD_BYTES, headers={"Nats-Msg-Id": "cam-0:run:1"})
    assert ack.stream == stream and ack.seq == 1
    assert (await js.stream_info(stream)).state.messages == 1


async def test_log_init_adds_the_bound_to_streams_made_without_it(js: JetStreamContext) -> None:
    old = [c.evolve(max_msg_size=-1) for c in stream_configs(LogConfig())]
    await ensure_stream_configs(js, old)
    changes = {c.stream: c for c in await ensure_streams(js, LogConfig())}
    assert changes["FF_TRACKS"].changes == (f"max_msg_size: -1 -> {MAX_STORED_MSG_BYTES}",)
    assert changes["FF_DLQ"].action == "unchanged"  # dead letters carry a refused payload and reason headers
    info = await js.stream_info("FF_TRACKS")
    assert info.config.max_msg_size == MAX_STORED_MSG_BYTES
    assert isinstance(info.config, js_api.StreamConfig)
