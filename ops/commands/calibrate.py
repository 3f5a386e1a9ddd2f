"""`footfall calibrate`: fit a camera's image-to-floor homography and write its layout entry."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ops.cli import CommandTree

_DESCRIPTION = """\
Fit the homography from image pixels to floor metres from four or more point pairs and
write the camera's entry (schemas.CameraCalibration: homography over NORMALISED image
coordinates) into a layout file, creating it or replacing that camera. Prints the fit
(reprojection error in metres) as JSON.

Pairs come from a CSV with header u_px,v_px,x_m,y_m, or from MOT15 ground truth whose
columns 8 and 9 are world x, y in metres (the box's bottom centre is the image point).

examples:
  footfall calibrate --pairs door-pairs.csv --image-size 1920x1080 --camera door --out layout.json
  footfall calibrate --from-mot-gt ../shared/data/pets09-s2l1/gt.txt --image-size 768x576 \\
      --camera cam1 --out pets09-layout.json
"""


def register(tree: CommandTree) -> None:
    parser = tree.add("calibrate", "Fit a camera's image-to-floor homography from point pairs.", _run, _DESCRIPTION)
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--pairs", type=Path, help="CSV of u_px,v_px,x_m,y_m (header line optional)")
    src.add_argument("--from-mot-gt", type=Path, help="MOT15 ground truth with world x, y (columns 8, 9)")
    parser.add_argument("--image-size", required=True, help="WIDTHxHEIGHT of the images the pixels refer to")
    parser.add_argument("--camera", required=True, help="camera id")
    parser.add_argument("--out", type=Path, default=None, help="layout JSON to create or update (default: print)")
    parser.add_argument(
        "--ransac-m", type=float, default=None, help="RANSAC outlier threshold in floor metres (default: least squares)"
    )
    parser.add_argument("--label", default="", help="camera label (a place, never a person)")


def parse_image_size(value: str) -> tuple[int, int]:
    """'768x576' -> (768, 576); SystemExit naming the value otherwise."""
    parts = value.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise SystemExit(f"footfall calibrate: --image-size must be WIDTHxHEIGHT in pixels, got {value!r}")
    return int(parts[0]), int(parts[1])


def read_pairs_csv(path: Path) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(image pixels (n, 2), floor metres (n, 2)) from a u_px,v_px,x_m,y_m CSV."""
    import numpy as np

    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#") or (number == 1 and text.replace(" ", "").startswith("u_px")):
            continue
        fields = text.split(",")
        if len(fields) != 4:
            raise ValueError(f"{path}:{number}: expected 4 values u_px,v_px,x_m,y_m, got {text!r}")
        try:
            rows.append([float(f) for f in fields])
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: not numbers: {text!r}") from exc
    table = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    return table[:, :2], table[:, 2:]


def read_pairs_mot_gt(path: Path) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Bottom-centre pixels and world metres of every ground-truth box with finite world coordinates."""
    import numpy as np

    data = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    if data.shape[1] < 9:
        raise ValueError(f"{path}: MOT15 ground truth with world x, y needs at least 9 columns, got {data.shape[1]}")
    ok = np.isfinite(data[:, 7:9]).all(axis=1)
    data = data[ok]
    image = np.column_stack([data[:, 2] + data[:, 4] / 2.0, data[:, 3] + data[:, 5]])
    return image, data[:, 7:9]


def _run(args: argparse.Namespace) -> int:
    import msgspec
    import numpy as np

    from ml_core.geometry.homography import CalibrationError, fit_homography, pixels_to_normalised
    from schemas import CameraCalibration, SchemaError, StoreLayout, decode_layout_json, encode_json

    width, height = parse_image_size(args.image_size)
    try:
        image, floor = read_pairs_csv(args.pairs) if args.pairs else read_pairs_mot_gt(args.from_mot_gt)
        fit = fit_homography(image, floor, args.ransac_m)
    except (OSError, ValueError) as exc:  # CalibrationError is a ValueError
        kind = "calibration refused" if isinstance(exc, CalibrationError) else "cannot read pairs"
        print(f"footfall calibrate: {kind}: {exc}", file=sys.stderr)
        return 2
    outside = (image[:, 0] < 0) | (image[:, 0] > width) | (image[:, 1] < 0) | (image[:, 1] > height)
    norm = pixels_to_normalised(fit.matrix, width, height)
    try:
        camera = CameraCalibration(
            camera_id=args.camera,
            image_to_floor=tuple(float(v) for v in norm.reshape(-1)),  # type: ignore[arg-type]
            image_width_px=width,
            image_height_px=height,
            label=args.label,
        )
        camera = msgspec.convert(msgspec.to_builtins(camera), CameraCalibration)  # validates ids and bounds
    except (ValueError, msgspec.ValidationError) as exc:
        print(f"footfall calibrate: {exc}", file=sys.stderr)
        return 2
    report = {
        "camera_id": args.camera,
        "pairs": fit.n_pairs,
        "inliers": fit.n_inliers,
        "pairs_outside_image": int(outside.sum()),
        "rmse_m": round(fit.rmse_m, 4),
        "median_error_m": round(fit.median_error_m, 4),
        "max_error_m": round(fit.max_error_m, 4),
        "image_to_floor": [round(float(v), 9) for v in np.asarray(camera.image_to_floor)],
    }
    if args.out is None:
        print(encode_json(camera).decode())
    else:
        try:
            layout = decode_layout_json(args.out.read_bytes()) if args.out.exists() else StoreLayout()
        except SchemaError as exc:
            print(f"footfall calibrate: existing layout {args.out} is invalid: {exc}", file=sys.stderr)
            return 2
        cameras = (*(c for c in layout.cameras if c.camera_id != args.camera), camera)
        updated = msgspec.structs.replace(layout, cameras=cameras)
        args.out.write_bytes(msgspec.json.format(encode_json(updated), indent=2) + b"\n")
        report["layout"] = str(args.out)
    print(json.dumps(report, indent=2))
    return 0
