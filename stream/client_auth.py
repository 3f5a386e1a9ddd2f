"""The client's TLS and credentials for a server footfall did not start, set once per process.

A hub with `[tls]` verifies every client's certificate, and a hub with accounts wants each client's
credentials. The commands that connect to a server footfall did not start take `--tls-ca`, `--tls-cert`,
`--tls-key` and `--creds` (or FOOTFALL_NATS_TLS_CA, ..._CERT, ..._KEY and FOOTFALL_NATS_CREDS), check
them once (`configure_client`) and every connection of the process then uses them (`client_options`).
Without nats-py imports: `footfall --help` builds its flags from here.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from stream.errors import ConfigError

TLS_CA_ENV = "FOOTFALL_NATS_TLS_CA"
TLS_CERT_ENV = "FOOTFALL_NATS_TLS_CERT"
TLS_KEY_ENV = "FOOTFALL_NATS_TLS_KEY"
CREDS_ENV = "FOOTFALL_NATS_CREDS"


@dataclass(frozen=True)
class ClientAuth:
    """How this process's clients prove themselves to the server: files, each optional (PEM; a .creds file)."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    creds_file: Path | None = None

    @classmethod
    def from_env(cls) -> ClientAuth:
        def path(name: str) -> Path | None:
            value = os.environ.get(name, "").strip()
            return Path(value) if value else None

        return cls(path(TLS_CA_ENV), path(TLS_CERT_ENV), path(TLS_KEY_ENV), path(CREDS_ENV))

    def options(self) -> dict[str, object]:
        """nats-py connect options for these files; ConfigError naming the flag and the file that is wrong."""
        for flag, file in (("--tls-ca", self.ca_file), ("--tls-cert", self.cert_file),
                           ("--tls-key", self.key_file), ("--creds", self.creds_file)):  # fmt: skip
            if file is not None and not file.is_file():
                raise ConfigError(f"{flag} {file}: no such file")
        if (self.cert_file is None) != (self.key_file is None):
            given, missing = ("--tls-cert", "--tls-key") if self.key_file is None else ("--tls-key", "--tls-cert")
            raise ConfigError(f"{given} needs {missing} as well (a client certificate and its key)")
        options: dict[str, object] = {}
        if self.ca_file is not None or self.cert_file is not None:
            try:
                ctx = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
                if self.cert_file is not None and self.key_file is not None:
                    ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
            except (ssl.SSLError, OSError) as exc:
                raise ConfigError(f"TLS files --tls-ca {self.ca_file} --tls-cert {self.cert_file} --tls-key "
                                  f"{self.key_file}: {exc}") from exc  # fmt: skip
            options["tls"] = ctx
        if self.creds_file is not None:
            options["user_credentials"] = str(self.creds_file)
        return options


_client: dict[str, object] = {}


def configure_client(auth: ClientAuth) -> None:
    """Check `auth` and use it for every later connection of this process; ConfigError if a file is wrong."""
    _client.clear()
    _client.update(auth.options())


def client_options() -> dict[str, object]:
    """The TLS and credentials options configure_client set (none by default), for nats.connect."""
    return dict(_client)
