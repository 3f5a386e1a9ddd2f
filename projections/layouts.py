"""Which layout is in force when: the newest version whose effective_from_ns <= the event's ts_ns."""

from __future__ import annotations

import bisect

import numpy as np
import numpy.typing as npt

from schemas.events import LayoutPublished
from schemas.layout import StoreLayout


class LayoutHistory:
    """The layout versions of one store, looked up by event time (DESIGN.md §4)."""

    def __init__(self, store_id: str) -> None:
        self.store_id = store_id
        self._starts: list[int] = []
        self._versions: list[LayoutPublished] = []

    def add(self, published: LayoutPublished) -> None:
        """Record a published layout; republishing the same version is a no-op, a conflicting one an error."""
        if published.store_id != self.store_id:
            raise ValueError(f"layout for store {published.store_id!r} given to history of {self.store_id!r}")
        for existing in self._versions:
            if existing.version == published.version:
                if existing != published:
                    raise ValueError(
                        f"layout version {published.version} of {self.store_id!r} published twice "
                        "with different content"
                    )
                return
        key = (published.effective_from_ns, published.version)
        index = bisect.bisect_right([(v.effective_from_ns, v.version) for v in self._versions], key)
        self._versions.insert(index, published)
        self._starts.insert(index, published.effective_from_ns)

    def at(self, ts_ns: int) -> tuple[int, StoreLayout | None]:
        """Return (version, layout) in force at ts_ns, or (0, None) before the first layout."""
        index = bisect.bisect_right(self._starts, ts_ns) - 1
        if index < 0:
            return 0, None
        published = self._versions[index]
        return published.version, published.layout

    def versions_at(self, ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The version in force at each ts_ns (n,), 0 before the first layout: at() for a whole batch."""
        numbers = np.array([0, *(published.version for published in self._versions)], dtype=np.int64)
        return numbers[np.searchsorted(np.asarray(self._starts, dtype=np.int64), ts_ns, side="right")]

    def version(self, version: int) -> StoreLayout | None:
        """Return the layout published as `version`, or None if this history lacks it."""
        for published in self._versions:
            if published.version == version:
                return published.layout
        return None

    def published(self) -> tuple[LayoutPublished, ...]:
        """Every version recorded, by effective time (then version number)."""
        return tuple(self._versions)

    def __len__(self) -> int:
        return len(self._versions)


def layout_at(layouts: dict[str, LayoutHistory], store_id: str, ts_ns: int) -> tuple[int, StoreLayout | None]:
    """Return (version, layout) in force for the store at ts_ns; (0, None) for a store without layouts yet."""
    history = layouts.get(store_id)
    return history.at(ts_ns) if history is not None else (0, None)
