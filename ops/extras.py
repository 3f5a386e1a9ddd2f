"""Optional packages: which extra installs each, and the one-line error a user sees when one is missing.

`make demo`'s install (`pip install -e .`) carries everything the product runs. The peers that
`footfall eval mot` and `footfall bench tracker` measure against (the `trackers` package and its
`supervision` dependency) are an extra: they pin `opencv-python`, which would overwrite
`opencv-python-headless`'s cv2, so they are installed with `--no-deps` by `make eval`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Extra:
    """An optional group of packages and how a user installs it."""

    name: str
    purpose: str
    install: str


EVAL = Extra(
    name="eval",
    purpose="the tracking peers and evaluator (trackers, supervision)",
    install="make eval  (or: pip install 'footfall[eval]' && pip install --no-deps -r requirements-peers.txt)",
)

# Top-level module name -> the extra that provides it: the peers and what only they need.
OPTIONAL_MODULES: dict[str, Extra] = {
    name: EVAL for name in ("trackers", "supervision", "scipy", "rich", "deprecate", "av", "defusedxml", "yaml")
}


class MissingExtra(RuntimeError):
    """A command needs a package from an extra that is not installed."""

    def __init__(self, module: str, extra: Extra) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"needs the {module!r} package from the {extra.name!r} extra ({extra.purpose}); install: {extra.install}"
        )


def require(*modules: str) -> None:
    """Raise MissingExtra for the first of `modules` that cannot be imported.

    Checked before a command does any work, so a missing peer is reported in one line instead of as
    a traceback at the end of a long run.
    """
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # the peer, or a package that only it needs (installed --no-deps)
            raise missing_extra(exc) or MissingExtra(module, OPTIONAL_MODULES[module]) from None


def missing_extra(exc: ModuleNotFoundError) -> MissingExtra | None:
    """The MissingExtra behind an import error raised deep inside a command, or None when it is a bug."""
    root = (exc.name or "").split(".")[0]
    extra = OPTIONAL_MODULES.get(root)
    return MissingExtra(root, extra) if extra is not None else None
