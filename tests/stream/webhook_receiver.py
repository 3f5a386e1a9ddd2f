"""A webhook receiver for tests: http.server in a thread on a random loopback port, recording every POST.

`script(path, n)` makes the next n POSTs answer with a status of the test's choosing (503 for a while,
a 400, a 429); every other POST answers 204 after `delay_s`. Each request is recorded with the status
it was answered with, so a test sees the failed attempts as well as the deliveries.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


class Receiver:
    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self._lock = threading.Lock()
        self._script: deque[int] = deque()
        self.requests: list[Received] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    status = receiver._script.popleft() if receiver._script else 204
                if status == 204 and receiver.delay_s:
                    time.sleep(receiver.delay_s)
                with receiver._lock:
                    receiver.requests.append(Received(self.path, dict(self.headers.items()), body, status))
                answer = b"" if status == 204 else f"status {status} from the test receiver".encode()
                self.send_response(status)
                if status in (429, 503):
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/alerts"

    def script(self, status: int, n: int) -> None:
        """Answer the next n POSTs with `status`."""
        with self._lock:
            self._script.extend([status] * n)

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    def delivered_keys(self) -> set[str]:
        return {r.headers["Idempotency-Key"] for r in self.snapshot() if 200 <= r.status < 300}

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 30.0) -> None:
        end = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > end:
                raise AssertionError(f"receiver: condition not met in {timeout_s}s; got {len(self.requests)} requests")
            time.sleep(0.02)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
