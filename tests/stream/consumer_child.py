"""A consumer process for the kill test: records each processed stream sequence, acks per batch.

argv: url, output file, stop_after (0: run until caught up). With stop_after N
it stops mid-batch after recording N sequences, prints "stopped" and waits
to be killed.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

import nats

from stream.consumer import PullConsumer


async def main(url: str, out_path: str, stop_after: int) -> None:
    nc = await nats.connect(url)
    consumer = PullConsumer(nc, "FF_TRACKS", "proj-kill", batch=100, ack_wait_s=2.0, origin="proj-kill")
    await consumer.open()
    processed = 0
    with open(out_path, "a") as out:
        while True:
            delivered = await consumer.fetch(1.0)
            if not delivered:
                if stop_after == 0 and await consumer.pending() == 0:
                    break
                continue
            for item in delivered:
                out.write(f"{item.stream_seq}\n")
                out.flush()
                os.fsync(out.fileno())
                processed += 1
                if stop_after and processed == stop_after:
                    print("stopped", flush=True)
                    time.sleep(3600)  # killed here, mid-batch, before the ack
            await consumer.ack(delivered)
    print(f"done dead_lettered={consumer.dead_lettered}", flush=True)
    await nc.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
