"""`footfall serve`'s configuration: who may query, what they see, and the limits every query runs under.

Read from `serve.toml` (or .json); unknown keys are an error, as in every footfall config file. Passwords
are stored as scrypt hashes (`footfall serve hash-password` makes one), never in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import msgspec

DEFAULT_LISTEN = "127.0.0.1:8123"  # ClickHouse's own HTTP port: analysts' tools default to it

_ID = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
_USER = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")]
# scrypt parameters of new hashes: about 50 ms on this class of machine, 16 MiB of memory.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 1 << 14, 8, 1


class ServeConfigError(ValueError):
    """A serve config file that cannot be used; the message names the file, the field and the value."""


class Role(StrEnum):
    """What a user may read.

    analyst: every footfall table and view, rows of the granted stores only;
    partner: only the k-anonymous `shared_*` views, rows of the granted stores only.
    """

    ANALYST = "analyst"
    PARTNER = "partner"


class User(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One SQL user: name, scrypt password hash, role and the stores it is granted ("*" = every store)."""

    name: _USER
    password_scrypt: str
    role: Role = Role.ANALYST
    stores: tuple[Annotated[str, msgspec.Meta(pattern=r"^(\*|[a-z0-9][a-z0-9_-]{0,31})$")], ...] = ("*",)


class Limits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Limits every SQL query runs under, enforced by ClickHouse settings on the read-only session."""

    max_execution_time_s: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    max_result_rows: Annotated[int, msgspec.Meta(ge=1)] = 1_000_000
    max_result_bytes: Annotated[int, msgspec.Meta(ge=1)] = 256 << 20
    max_concurrent_queries: Annotated[int, msgspec.Meta(ge=1)] = 8


class Targets(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What the dashboard and the weekly report measure the store against."""

    wait_s: Annotated[float, msgspec.Meta(gt=0, description="seconds: a queue wait above it is too long")] = 120.0
    customers_per_staff: Annotated[
        float, msgspec.Meta(gt=0, description="customer visits an hour per member of staff present, at most")
    ] = 15.0


class PlanImage(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A store's plan drawing (PNG or JPEG) under the dashboard's floor plan, placed in floor metres.

    image: the file, relative to the config file's directory (load_serve_config makes it absolute).
    x_m, y_m: the floor point of the image's top-left corner (metres, the layout's axes: y grows down the
    image). width_m: how wide the image is on the floor; its height follows from the file's aspect ratio.
    A drawing of the store, not a camera frame: nothing of it leaves serve but to the store's own users.
    """

    image: str
    width_m: Annotated[float, msgspec.Meta(gt=0)]
    x_m: float = 0.0
    y_m: float = 0.0


class ServeConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The whole file. With no users, the endpoint accepts the user `default` with no password from
    loopback only (the embedded default for one machine), as a fresh ClickHouse server does. plans: a
    store's plan image, by store id (`[plans.store-001]`)."""

    listen: str = DEFAULT_LISTEN
    users: tuple[User, ...] = ()
    limits: Limits = Limits()
    targets: Targets = Targets()
    plans: dict[_ID, PlanImage] = {}


@dataclass(frozen=True)
class PlanFile:
    """A checked plan image: its path, media type, pixel size and where it lies on the floor (metres)."""

    path: Path
    media_type: str
    width_px: int
    height_px: int
    x_m: float
    y_m: float
    width_m: float

    @property
    def height_m(self) -> float:
        return self.width_m * self.height_px / self.width_px


_IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg"}


def plan_files(config: ServeConfig, where: str) -> dict[str, PlanFile]:
    """Each configured plan image opened and measured; ServeConfigError naming the store and file otherwise.

    OpenCV reads it (footfall's own modules write no images: ml_core/privacy/redact.py alone does); the file's
    first bytes say whether it is a PNG or a JPEG.
    """
    import cv2

    out = {}
    for store_id, plan in config.plans.items():
        path = Path(plan.image)
        field = f"{where}: plans.{store_id}.image"
        try:
            head = path.read_bytes()[:8]
        except FileNotFoundError:
            raise ServeConfigError(f"{field}: no such file {str(path)!r}") from None
        except OSError as exc:
            raise ServeConfigError(f"{field}: cannot read {str(path)!r}: {exc}") from None
        kind = next((k for magic, k in _IMAGE_MAGIC.items() if head.startswith(magic)), None)
        if kind is None and head.startswith(b"GIF8"):
            raise ServeConfigError(f"{field}: expected a PNG or JPEG, got GIF ({str(path)!r})")
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if kind is not None else None
        if image is None:
            raise ServeConfigError(f"{field}: {str(path)!r} is not an image that can be read (a PNG or JPEG)")
        height, width = image.shape[:2]
        out[store_id] = PlanFile(path, f"image/{kind}", int(width), int(height), plan.x_m, plan.y_m, plan.width_m)
    return out


def load_serve_config(path: Path | None) -> ServeConfig:
    """The config at `path` (None: the defaults); ServeConfigError names the bad field and value."""
    if path is None:
        return ServeConfig()
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ServeConfigError(f"cannot read serve config {path}: {exc}") from exc
    suffix = Path(path).suffix.lower()
    try:
        if suffix == ".toml":
            config = msgspec.toml.decode(data, type=ServeConfig)
        elif suffix == ".json":
            config = msgspec.json.decode(data, type=ServeConfig)
        else:
            raise ServeConfigError(f"serve config {path} must end in .toml or .json, got {suffix!r}")
    except msgspec.ValidationError as exc:
        raise ServeConfigError(f"serve config {path}: {_name_the_plan(data, suffix) or exc}") from exc
    except msgspec.DecodeError as exc:
        raise ServeConfigError(f"serve config {path}: {exc}") from exc
    names = [u.name for u in config.users]
    for name in names:
        if names.count(name) > 1:
            raise ServeConfigError(f"serve config {path}: user {name!r} is defined {names.count(name)} times")
    for i, user in enumerate(config.users):
        try:
            _parse_hash(user.password_scrypt)
        except ValueError as exc:
            raise ServeConfigError(f"serve config {path}: users[{i}] ({user.name!r}).password_scrypt: {exc}") from None
    parse_listen(config.listen, where=f"serve config {path}: listen")
    base = Path(path).resolve().parent
    plans = {s: msgspec.structs.replace(p, image=str(base / p.image)) for s, p in config.plans.items()}
    config = msgspec.structs.replace(config, plans=plans)
    plan_files(config, f"serve config {path}")  # refused now, not when a page asks for it
    return config


def _name_the_plan(data: bytes, suffix: str) -> str | None:
    """The error of the first bad [plans.<store>] table, naming the store (msgspec writes a dict key as
    `[...]`), or None if the plans are not what is wrong."""
    raw = msgspec.toml.decode(data) if suffix == ".toml" else msgspec.json.decode(data)
    plans = raw.get("plans") if isinstance(raw, dict) else None
    for store_id, plan in (plans or {}).items() if isinstance(plans, dict) else ():
        try:
            msgspec.convert(plan, PlanImage)
        except msgspec.ValidationError as exc:
            text = str(exc)
            return text.replace("at `$", f"at `$.plans.{store_id}", 1) if "at `$" in text else (
                f"{text} - at `$.plans.{store_id}`")  # fmt: skip
    return None


def parse_listen(listen: str, where: str = "--listen") -> tuple[str, int]:
    """HOST:PORT into its parts; ServeConfigError naming `where` and the value otherwise."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ServeConfigError(f"{where}: expected HOST:PORT (e.g. {DEFAULT_LISTEN}), got {listen!r}")
    return host.strip("[]"), int(port)


def hash_password(password: str) -> str:
    """A new scrypt hash of `password`: `scrypt$N$r$p$salt_hex$hash_hex`."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Whether `password` matches the stored hash (constant-time comparison)."""
    n, r, p, salt, digest = _parse_hash(stored)
    got = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 << 20, dklen=len(digest))
    return hmac.compare_digest(got, digest)


def _parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("expected scrypt$N$r$p$salt_hex$hash_hex (made by `footfall serve hash-password`)")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
    except ValueError:
        raise ValueError("N, r and p must be integers and salt and hash hexadecimal") from None
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or len(digest) < 16:
        raise ValueError(f"N must be a power of two above 1, r and p at least 1, the hash 16 bytes or more: {stored!r}")
    return n, r, p, salt, digest
