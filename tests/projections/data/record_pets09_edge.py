"""Record PETS09-S2L1's edge output for the zone processor's golden digest (test_zones_pets09.py).

Runs footfall's edge pipeline (MOG2, the edge profile, the camera calibrated from the sequence's own
ground truth as `footfall calibrate --from-mot-gt` does) over ../shared/data/pets09-s2l1/vtest.avi with a
fixed edge run id, and writes the layout and every TrackFrame it publishes, each encoded as on the log,
to pets09_s2l1_edge.msgpack.gz. The edge's output is recorded rather than recomputed in the test because
OpenCV's background subtraction may round differently on another CPU; the digest pins the zone
processor, not OpenCV.

    .venv/bin/python tests/projections/data/record_pets09_edge.py
"""

from __future__ import annotations

import gzip
from pathlib import Path

import msgspec

from ml_core.detect import Mog2Config
from ml_core.geometry.homography import fit_homography
from ops.commands.calibrate import read_pairs_mot_gt
from ops.commands.edge import pets09_layout, track_video
from schemas.codec import encode
from schemas.events import LayoutPublished

HERE = Path(__file__).parent
DATA = HERE.parents[2].parent / "shared" / "data" / "pets09-s2l1"
OUT = HERE / "pets09_s2l1_edge.msgpack.gz"
STORE, CAMERA, RUN = "eval", "cam1", "pets09-run"
FRAME_RATE = 7.0  # the sequence's frame rate, as in test_pets09_accuracy_with_mog2


def main() -> None:
    image_px, world_m = read_pairs_mot_gt(DATA / "gt.txt")
    fit = fit_homography(image_px, world_m)
    run = track_video(DATA / "vtest.avi", fit, Mog2Config(), FRAME_RATE, camera_id=CAMERA, edge_run_id=RUN)
    layout = LayoutPublished(store_id=STORE, ts_ns=0, version=1, effective_from_ns=0,
                             layout=pets09_layout(fit, 768, 576, CAMERA))  # fmt: skip
    payloads = [encode(layout), *(encode(frame) for frame in run.published)]
    OUT.write_bytes(gzip.compress(msgspec.msgpack.encode(payloads), mtime=0))
    print(f"{OUT}: {len(run.published)} TrackFrames, {sum(len(f.tracks) for f in run.published)} tracks")


if __name__ == "__main__":
    main()
