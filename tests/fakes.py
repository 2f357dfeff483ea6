"""A local fake HTTP server that records every request exactly as it arrived."""

from __future__ import annotations

import ipaddress
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


class FakeDNS:
    """socket.getaddrinfo answering scripted names: each lookup takes the next answer (the last repeats).

    Names not scripted (IP literals, localhost, this machine's name) resolve as usual; lookups are counted,
    so a test can prove a name was looked up once (a second lookup is where DNS rebinding strikes).
    """

    def __init__(self, monkeypatch, answers: dict[str, list[str]]):
        import socket

        self.answers = {name: list(addresses) for name, addresses in answers.items()}
        self.lookups: dict[str, int] = {}
        real = socket.getaddrinfo

        def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
            name = host.decode() if isinstance(host, bytes) else str(host)
            if name not in self.answers:
                return real(host, port, family, type, proto, flags)
            count = self.lookups[name] = self.lookups.get(name, 0) + 1
            address = self.answers[name][min(count, len(self.answers[name])) - 1]
            number = int(port) if str(port or "").isdigit() else 0
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, number, 0, 0) if family == socket.AF_INET6 else (address, number)
            return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]

        real_connect = socket.create_connection

        def create_connection(address, *args, **kwargs):
            """Connect only on this machine: a scripted name that answered a public address gets refused."""
            host, port = address[0], address[1]
            for *_, sockaddr in getaddrinfo(host, port, 0, socket.SOCK_STREAM):
                if not ipaddress.ip_address(sockaddr[0]).is_loopback:
                    raise ConnectionRefusedError(f"FakeDNS: tests never connect to {sockaddr[0]}")
                return real_connect((sockaddr[0], port), *args, **kwargs)
            raise OSError(f"FakeDNS: no address for {host}")

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(socket, "create_connection", create_connection)
