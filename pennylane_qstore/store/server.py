"""A local, in-memory server speaking Pinecone's data-plane REST API, for offline work and tests.

It serves one dense index (fixed dimension and metric) and the calls the ``pinecone`` SDK's
``Index`` makes: ``POST /vectors/upsert``, ``POST /query``, ``GET /vectors/fetch``,
``POST /vectors/delete``, ``POST /describe_index_stats`` and ``GET /vectors/list``. It checks the
``Api-Key`` header and Pinecone's request limits, evaluates filters with
:mod:`pennylane_qstore.store.filters` and ranks exactly. Point the SDK at it by host::

    with LocalPineconeServer(dimension=16) as srv:
        index = Pinecone(api_key=srv.api_key).Index(host=srv.url)

or start it from a shell with ``qstore pinecone-server --dimension 512``.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from pennylane_qstore.store.filters import (
    FilterError,
    MetadataError,
    matches,
    validate_filter,
    validate_metadata,
)

logger = logging.getLogger(__name__)

METRICS = ("dotproduct", "cosine", "euclidean")
MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_UPSERT = 1_000
MAX_TOP_K = 10_000
MAX_TOP_K_WITH_DATA = 1_000
MAX_IDS = 1_000


class PineconeApiError(Exception):
    """An error answer: HTTP status and Pinecone's ``{"code", "message"}`` body."""

    def __init__(self, status: int, message: str, code: int = 3) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class LocalPineconeServer:
    """Pinecone's data plane on ``http://127.0.0.1:PORT`` for one in-memory index.

    Args:
        dimension: vector dimension of the index (``2 * 2**n`` for n-qubit states).
        metric: ``"dotproduct"`` (default), ``"cosine"`` or ``"euclidean"``.
        api_key: the key clients must send in the ``Api-Key`` header.
        host: interface to bind.
        port: port to listen on (0: any free one).
    """

    def __init__(
        self,
        dimension: int,
        metric: str = "dotproduct",
        api_key: str = "qstore-local-key",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if not isinstance(dimension, int) or not 1 <= dimension <= 20_000:
            raise ValueError(
                f"dimension must be an int in [1, 20000] (Pinecone's limit), got {dimension!r}"
            )
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
        self.dimension, self.metric, self.api_key = dimension, metric, api_key
        self._lock = threading.Lock()
        self._spaces: dict[str, dict[str, tuple[np.ndarray, dict[str, Any]]]] = {}
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.requests: list[tuple[str, str, int]] = []
        """Every request received: (method, path, body bytes)."""

    @property
    def url(self) -> str:
        """Base URL to pass as the index host."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LocalPineconeServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.server_close()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> LocalPineconeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        """Answer one request (already authenticated)."""
        handlers = {
            ("POST", "/vectors/upsert"): self._upsert,
            ("POST", "/query"): self._query,
            ("POST", "/vectors/delete"): self._delete,
            ("POST", "/describe_index_stats"): self._stats,
            ("GET", "/vectors/fetch"): self._fetch,
            ("GET", "/vectors/list"): self._list,
        }
        handler = handlers.get((method, path))
        if handler is None:
            raise PineconeApiError(404, f"no route {method} {path} on this local server", 5)
        if method == "GET":
            return handler(query)
        if not isinstance(body, dict):
            raise PineconeApiError(400, "request body must be a JSON object")
        return handler(body)

    def _values(self, raw: Any, where: str) -> np.ndarray:
        if not isinstance(raw, list) or len(raw) != self.dimension:
            got = len(raw) if isinstance(raw, list) else type(raw).__name__
            raise PineconeApiError(
                400,
                f"Vector dimension {got} does not match the dimension of the index {self.dimension} ({where})",
            )
        vec = np.asarray(raw, dtype=np.float64)
        if not np.isfinite(vec).all():
            raise PineconeApiError(400, f"{where}: values must be finite numbers")
        return vec.astype(np.float32).astype(np.float64)

    def _upsert(self, body: dict[str, Any]) -> dict[str, Any]:
        vectors = body.get("vectors")
        if not isinstance(vectors, list) or not vectors:
            raise PineconeApiError(400, "vectors must be a non-empty list")
        if len(vectors) > MAX_UPSERT:
            raise PineconeApiError(
                400, f"upsert takes at most {MAX_UPSERT} vectors per request, got {len(vectors)}"
            )
        records = {}
        for i, rec in enumerate(vectors):
            if not isinstance(rec, dict) or not isinstance(rec.get("id"), str) or not rec["id"]:
                raise PineconeApiError(400, f"vectors[{i}] needs a non-empty string id")
            try:
                meta = validate_metadata(rec.get("metadata"), f"vectors[{i}].metadata")
            except MetadataError as exc:
                raise PineconeApiError(400, str(exc)) from exc
            records[rec["id"]] = (self._values(rec.get("values"), f"vectors[{i}]"), meta)
        with self._lock:
            self._spaces.setdefault(body.get("namespace", ""), {}).update(records)
        return {"upsertedCount": len(records)}

    def _filter(self, body: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return validate_filter(body.get("filter"))
        except FilterError as exc:
            raise PineconeApiError(400, f"Invalid filter: {exc}") from exc

    def _query(self, body: dict[str, Any]) -> dict[str, Any]:
        top_k = body.get("topK")
        with_data = bool(body.get("includeValues") or body.get("includeMetadata"))
        limit = MAX_TOP_K_WITH_DATA if with_data else MAX_TOP_K
        if not isinstance(top_k, int) or not 1 <= top_k <= limit:
            raise PineconeApiError(400, f"topK must be an integer from 1 to {limit}, got {top_k!r}")
        flt = self._filter(body)
        namespace = body.get("namespace", "")
        with self._lock:
            space = dict(self._spaces.get(namespace, {}))
        if "vector" in body:
            vec = self._values(body["vector"], "vector")
        elif isinstance(body.get("id"), str) and body["id"] in space:
            vec = space[body["id"]][0]
        else:
            raise PineconeApiError(400, "query needs a vector or the id of a stored vector")
        ids = [i for i, (_, m) in space.items() if matches(flt, m)]
        matches_out = []
        if ids:
            mat = np.stack([space[i][0] for i in ids])
            scores = self._scores(mat, vec)
            order = np.argsort(-scores if self.metric != "euclidean" else scores, kind="stable")[
                :top_k
            ]
            for j in order:
                item: dict[str, Any] = {"id": ids[j], "score": float(scores[j])}
                if body.get("includeValues"):
                    item["values"] = space[ids[j]][0].tolist()
                if body.get("includeMetadata"):
                    item["metadata"] = space[ids[j]][1]
                matches_out.append(item)
        return {"matches": matches_out, "namespace": namespace, "usage": {"readUnits": 1}}

    def _scores(self, mat: np.ndarray, vec: np.ndarray) -> np.ndarray:
        if self.metric == "dotproduct":
            return mat @ vec
        if self.metric == "cosine":
            norms = np.linalg.norm(mat, axis=1) * np.linalg.norm(vec)
            return (mat @ vec) / np.where(norms == 0, 1, norms)
        return np.sum((mat - vec) ** 2, axis=1)

    def _delete(self, body: dict[str, Any]) -> dict[str, Any]:
        namespace = body.get("namespace", "")
        ids, flt, everything = body.get("ids"), self._filter(body), body.get("deleteAll", False)
        if (ids is not None) + (flt is not None) + bool(everything) != 1:
            raise PineconeApiError(400, "delete takes exactly one of ids, filter or deleteAll")
        if ids is not None and (not isinstance(ids, list) or len(ids) > MAX_IDS):
            raise PineconeApiError(400, f"ids must be a list of at most {MAX_IDS} ids")
        with self._lock:
            space = self._spaces.get(namespace, {})
            doomed = (
                ids if ids is not None else [i for i, (_, m) in space.items() if matches(flt, m)]
            )
            for i in doomed:
                space.pop(i, None)
            if not space:
                self._spaces.pop(namespace, None)
        return {}

    def _stats(self, body: dict[str, Any]) -> dict[str, Any]:
        flt = self._filter(body)
        with self._lock:
            counts = {
                ns: sum(matches(flt, m) for _, m in space.values())
                for ns, space in self._spaces.items()
            }
        return {
            "namespaces": {ns: {"vectorCount": n} for ns, n in counts.items() if n},
            "dimension": self.dimension,
            "indexFullness": 0.0,
            "totalVectorCount": sum(counts.values()),
            "metric": self.metric,
            "vectorType": "dense",
        }

    def _fetch(self, query: dict[str, list[str]]) -> dict[str, Any]:
        ids = query.get("ids", [])
        if not ids or len(ids) > MAX_IDS:
            raise PineconeApiError(400, f"fetch takes 1 to {MAX_IDS} ids, got {len(ids)}")
        namespace = query.get("namespace", [""])[0]
        with self._lock:
            space = self._spaces.get(namespace, {})
            found = {i: space[i] for i in ids if i in space}
        vectors = {i: {"id": i, "values": v.tolist(), "metadata": m} for i, (v, m) in found.items()}
        return {"vectors": vectors, "namespace": namespace, "usage": {"readUnits": 1}}

    def _list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        namespace = query.get("namespace", [""])[0]
        prefix = query.get("prefix", [""])[0]
        try:
            limit = int(query.get("limit", ["100"])[0])
            start = int(query.get("paginationToken", ["0"])[0])
        except ValueError as exc:
            raise PineconeApiError(400, "limit and paginationToken must be integers") from exc
        with self._lock:
            ids = sorted(i for i in self._spaces.get(namespace, {}) if i.startswith(prefix))
        page = ids[start : start + limit]
        out: dict[str, Any] = {"vectors": [{"id": i} for i in page], "namespace": namespace}
        if start + limit < len(ids):
            out["pagination"] = {"next": str(start + limit)}
        return out


def _handler_for(server: LocalPineconeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("%s - %s", self.address_string(), format % args)

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method: str) -> None:
            url = urlsplit(self.path)
            try:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                server.requests.append((method, url.path, length))
                if self.headers.get("Api-Key") != server.api_key:
                    raise PineconeApiError(401, "Invalid API Key", 16)
                if length > MAX_BODY_BYTES:
                    raise PineconeApiError(
                        413, f"request of {length} bytes exceeds the 2 MB limit", 3
                    )
                try:
                    body = json.loads(raw) if raw else {}
                except json.JSONDecodeError as exc:
                    raise PineconeApiError(400, f"body is not JSON: {exc}") from exc
                self._send(200, server.route(method, url.path, parse_qs(url.query), body))
            except PineconeApiError as exc:
                self._send(exc.status, {"code": exc.code, "message": exc.message, "details": []})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

    return Handler
