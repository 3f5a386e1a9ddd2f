"""Errors of the log layer; callers never need to catch a nats-py exception type."""

from __future__ import annotations


class LogError(RuntimeError):
    """Base of every error raised by footfall's stream package."""


class ServerStartError(LogError):
    """The embedded nats-server did not start; the message carries the tail of its log."""


class ServerIdentityError(LogError):
    """The server reached is not the one footfall spawned."""


class PayloadTooLarge(LogError):
    """A payload exceeds the privacy bound on message size (DESIGN.md §6.1)."""
