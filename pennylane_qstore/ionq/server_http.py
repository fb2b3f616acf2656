"""The HTTP layer of :class:`~pennylane_qstore.ionq.server.LocalIonQServer`: auth, faults, JSON."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from pennylane_qstore.ionq.payload import ApiError

if TYPE_CHECKING:
    from pennylane_qstore.ionq.server import LocalIonQServer

API_PREFIX = "/v0.4"


class LocalHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server whose listen backlog takes a device's burst of concurrent
    requests (the standard library's 5 makes bursts of 16 pooled requests wait or fail)."""

    request_queue_size = 128
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    """Answers requests for the :class:`LocalIonQServer` in ``app`` (bound by :func:`handler_for`)."""

    protocol_version = "HTTP/1.1"
    app: LocalIonQServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        reason = self.responses.get(status, ("Error",))[0]
        self._send(status, {"statusCode": status, "error": reason, "message": message}, headers)

    def _handle(self, method: str) -> None:
        server = self.app
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        server.record_request(method, split.path)
        if server.latency:
            time.sleep(server.latency)
        if not split.path.startswith(API_PREFIX + "/"):
            self._error(404, f"unknown API version in {split.path}; use {API_PREFIX}")
            return
        if self.headers.get("Authorization") != f"apiKey {server.api_key}":
            self._error(401, "missing or invalid API key; send 'Authorization: apiKey KEY'")
            return
        fault = server.take_fault(("5xx", "429"), method)
        if fault is not None and fault.kind == "429":
            self._error(429, "too many requests", {"Retry-After": str(fault.retry_after)})
            return
        if fault is not None:
            self._error(fault.status, "injected server error")
            return
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            self._error(400, "request body is not valid JSON")
            return
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        path = split.path[len(API_PREFIX) :]
        try:
            answer = server.route(method, path, query, body)
        except ApiError as err:
            self._error(err.status, err.message)
            return
        dropping = method == "POST" and path.rstrip("/") == "/jobs"
        if dropping and server.take_fault(("drop",), "POST") is not None:
            self.close_connection = True
            return
        self._send(200, answer)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")


def handler_for(server: LocalIonQServer) -> type[BaseHTTPRequestHandler]:
    """Return a request handler class answering for ``server``."""
    return type("Handler", (_Handler,), {"app": server})
