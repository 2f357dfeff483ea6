"""A local fake HTTP server that records every request exactly as it arrived."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body or b"null")


@dataclass
class Route:
    status: int = 200
    body: object = field(default_factory=lambda: {"ok": True})
    delay: float = 0.0
    headers: dict = field(default_factory=dict)


class FakeServer:
    """Serve scripted answers on 127.0.0.1 and keep every request for assertions."""

    def __init__(self):
        self.requests: list[Recorded] = []
        self.routes: dict[tuple[str, str], Route] = {}
        self.arrived = threading.Event()
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append(Recorded(self.command, self.path, dict(self.headers), body))
                server.arrived.set()
                route = server.routes.get((self.command, self.path.split("?")[0]), Route())
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                time.sleep(route.delay)
                with server._lock:
                    server.in_flight -= 1
                payload = json.dumps(route.body).encode()
                self.send_response(route.status)
                self.send_header("Content-Type", "application/json")
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def route(self, method: str, path: str, **kwargs) -> None:
        self.routes[(method, path)] = Route(**kwargs)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
