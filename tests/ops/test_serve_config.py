"""serve.toml's plan images: a good one is found relative to the file and measured; a bad one is refused at
load, naming the store's field and the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from ops.serve.config import ServeConfigError, load_serve_config, plan_files


def _config(tmp_path: Path, plan: str) -> Path:
    path = tmp_path / "serve.toml"
    path.write_text(f"[plans.store-001]\n{plan}\n")
    return path


def test_a_plan_image_is_read_relative_to_the_config_and_measured(tmp_path: Path) -> None:
    (tmp_path / "plans").mkdir()
    Image.new("RGB", (300, 200), "white").save(tmp_path / "plans" / "a.jpg")
    config = load_serve_config(_config(tmp_path, 'image = "plans/a.jpg"\nwidth_m = 15.0\ny_m = 2.5'))
    (plan,) = plan_files(config, "test").values()
    assert plan.path == tmp_path / "plans" / "a.jpg" and plan.media_type == "image/jpeg"
    assert (plan.width_px, plan.height_px, plan.x_m, plan.y_m, plan.height_m) == (300, 200, 0.0, 2.5, 10.0)


@pytest.mark.parametrize(
    ("plan", "make", "message"),
    [
        ('image = "missing.png"\nwidth_m = 10', None, "plans.store-001.image: no such file"),
        ('image = "notes.png"\nwidth_m = 10', "text", "is not an image that can be read"),
        ('image = "plan.gif"\nwidth_m = 10', "gif", "expected a PNG or JPEG, got GIF"),
        ('image = "plan.png"\nwidth_m = 0', "png", "Expected `float` > 0.0 - at `$.plans.store-001.width_m`"),
        ('image = "plan.png"', "png", "missing required field `width_m` - at `$.plans.store-001`"),
    ],
)
def test_a_bad_plan_image_is_refused_naming_the_field(
    tmp_path: Path, plan: str, make: str | None, message: str
) -> None:
    if make == "text":
        (tmp_path / "notes.png").write_text("not a picture")
    elif make == "gif":
        Image.new("RGB", (10, 10)).save(tmp_path / "plan.gif")
    elif make == "png":
        Image.new("RGB", (10, 10)).save(tmp_path / "plan.png")
    with pytest.raises(ServeConfigError) as info:
        load_serve_config(_config(tmp_path, plan))
    assert message in str(info.value)
