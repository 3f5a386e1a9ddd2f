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


class LogUnavailable(LogError):
    """The log could not be reached (connection refused, closed, or no JetStream answer in time)."""


class ProvisionError(LogError):
    """Creating or updating a stream failed; the message names the stream and the server's reason."""


class ConfigError(LogError):
    """A log configuration file or value is invalid; the message names the field and the value."""


class SpoolError(LogError):
    """The on-disk spool could not be written or read (disk full, permissions)."""


class PublishRejected(LogError):
    """The log refused a message for good (not a transient failure); retrying with the same id cannot help."""
