"""The one error type of the contract: every bad message or config raises SchemaError."""

from __future__ import annotations


class SchemaError(ValueError):
    """A message or config does not satisfy the footfall contract.

    `path` is a JSON path such as `$.tracks[3].x1` (or `$` for the whole
    message) and `value` is the offending value when one could be recovered.
    The message names both, so it can go unchanged into a DLQ reason header.
    """

    def __init__(self, reason: str, path: str = "$", value: object = None, has_value: bool = False) -> None:
        self.reason = reason
        self.path = path
        self.value = value
        self.has_value = has_value
        got = f", got {_short_repr(value)}" if has_value else ""
        super().__init__(f"{reason} - at `{path}`{got}")


def _short_repr(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
