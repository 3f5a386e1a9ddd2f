"""What-ifs carried out by serve for `footfall whatif` (over the data directory's socket), beside the live
projections: serve owns the store the scratch tables go into, and a what-if publishes nothing, so it
needs no pause of anything live."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from ops.serve.sql_socket import ReplayFailed, WhatIfDone, WhatIfFrame, WhatIfHandler, WhatIfJob, WhatIfStep
from projections.store import Store, StoreError


def whatif_handler(url: str, store: Store) -> WhatIfHandler:
    """Carry out each job on `store` and the log at `url`: progress frames, then its report or failure."""
    from ops.whatif import StoreChoiceError, report_text, run_whatif
    from projections.whatif import WhatIfError, WhatIfProgress
    from schemas.codec import decode_layout_json
    from schemas.errors import SchemaError

    async def handle(job: WhatIfJob) -> AsyncIterator[WhatIfFrame]:
        frames: asyncio.Queue[WhatIfFrame] = asyncio.Queue()

        def progress(p: WhatIfProgress) -> None:
            frames.put_nowait(WhatIfStep(p.first_seq, p.seq, p.stream_last_seq))

        async def run() -> None:
            try:
                layout = decode_layout_json(job.layout_json)
                report = await run_whatif(url, store, layout, job.from_ns, job.to_ns, store_id=job.store_id,
                                          ttl_s=job.ttl_s, warmup_s=job.warmup_s, tail_s=job.tail_s,
                                          progress=progress)  # fmt: skip
                frames.put_nowait(WhatIfDone(report_text(report), json.dumps(report.as_json(), indent=2)))
            except (SchemaError, StoreChoiceError, WhatIfError, StoreError, ValueError) as exc:
                frames.put_nowait(ReplayFailed(str(exc)))

        task = asyncio.create_task(run())
        try:
            while True:
                frame = await frames.get()
                yield frame
                if not isinstance(frame, WhatIfStep):
                    return
        finally:
            if not task.done():
                await task  # the scratch version is finished (and listed) even if the client left

    return handle
