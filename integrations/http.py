"""Outbound HTTP for steps and connectors: SSRF-guarded, size-capped, failures classified for retries."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class HttpError(Exception):
    """An outbound request failed; `retryable` tells the retry policy whether to try again."""

    def __init__(
        self,
        message,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
        response_body: str | None = None,
    ):
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        self.response_body = response_body


class BlockedURLError(HttpError):
    """The URL points somewhere steps may not reach (loopback, private, link-local…)."""

    def __init__(self, message: str):
        super().__init__(message, retryable=False)


@dataclass(frozen=True)
class HttpPolicy:
    """What outbound requests may reach and how much they may read."""

    allow_hosts: frozenset[str] = frozenset()  # names, IPs or CIDRs allowed although private
    allowed_schemes: frozenset[str] = frozenset({"http", "https"})
    max_response_bytes: int = 5_000_000
    max_redirects: int = 5


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: Any
    elapsed_ms: int


def safe_url(url: str) -> str:
    """The URL without user info or query string, for messages (both may carry secrets)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _why_blocked(address: Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    for attribute, label in (
        ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local"),  # before is_private, which also covers 169.254/16
        ("is_private", "a private"),
        ("is_multicast", "a multicast"),
        ("is_reserved", "a reserved"),
        ("is_unspecified", "an unspecified"),
    ):
        if getattr(address, attribute):
            return f"{label} address"
    return None


def _allowed(host: str, address: Address, policy: HttpPolicy) -> bool:
    for entry in policy.allow_hosts:
        if entry.lower().rstrip(".") == host:
            return True
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def resolve(host: str, port: int) -> list[Address]:
    """Every address the host resolves to (numeric forms such as 0x7f000001 included)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise HttpError(f"could not resolve host '{host}': {exc}", retryable=True) from exc
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def check_url(url: str, policy: HttpPolicy) -> list[Address]:
    """Refuse URLs whose host resolves to a non-public address unless allow-listed; returns the addresses."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in policy.allowed_schemes:
        raise BlockedURLError(f"scheme '{parts.scheme}' is not allowed (use http or https)")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise BlockedURLError(f"'{safe_url(url)}' has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(host, port)
    for address in addresses:
        reason = _why_blocked(address)
        if reason and not _allowed(host, address, policy):
            raise BlockedURLError(f"'{host}' resolves to {address}, {reason}; add it to FAOS_HTTP_ALLOW_HOSTS to allow")
    return addresses


class GuardedTransport(httpx.HTTPTransport):
    """Checks every request, redirects included, just before it is sent."""

    def __init__(self, policy: HttpPolicy, **kwargs):
        super().__init__(**kwargs)
        self.policy = policy

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # The check resolves the name and the connection resolves it again: a DNS answer that changes in
        # between (rebinding) is a narrow window we accept for now; redirects are re-checked here.
        check_url(str(request.url), self.policy)
        return super().handle_request(request)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _classify(method: str, url: str, response: httpx.Response, body: bytes) -> HttpError:
    status = response.status_code
    excerpt = body[:500].decode("utf-8", "replace")
    retryable = status >= 500 or status in (408, 429)
    message = f"{method} {safe_url(url)} answered HTTP {status}: {excerpt}".strip()
    return HttpError(
        message,
        retryable=retryable,
        status=status,
        response_body=excerpt,
        retry_after=_retry_after(response.headers.get("Retry-After")) if status in (429, 503) else None,
    )


def _read(response: httpx.Response, limit: int, method: str, url: str) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise HttpError(f"{method} {safe_url(url)}: response larger than {limit} bytes", retryable=False)
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(response: httpx.Response, body: bytes) -> Any:
    if "json" in response.headers.get("content-type", "") and body:
        try:
            return httpx.Response(200, content=body).json()
        except ValueError:
            pass
    return body.decode(response.encoding or "utf-8", "replace")


def send(
    method: str,
    url: str,
    *,
    policy: HttpPolicy,
    headers: dict | None = None,
    params: dict | None = None,
    json: Any = None,
    data: Any = None,
    auth: tuple[str, str] | None = None,
    timeout: float = 30.0,
    raise_for_status: bool = True,
) -> HttpResult:
    """Send one request under the policy; raise HttpError (classified) on failure."""
    method = method.upper()
    check_url(url, policy)
    started = time.monotonic()
    transport = GuardedTransport(policy)
    try:
        with (
            httpx.Client(
                transport=transport, timeout=timeout, follow_redirects=True, max_redirects=policy.max_redirects
            ) as client,
            client.stream(
                method, url, headers=headers, params=params, json=json, content=_content(data), auth=auth
            ) as response,
        ):
            body = _read(response, policy.max_response_bytes, method, url)
    except HttpError:
        raise
    except httpx.TooManyRedirects as exc:
        raise HttpError(f"{method} {safe_url(url)}: too many redirects", retryable=False) from exc
    except httpx.TimeoutException as exc:
        raise HttpError(f"{method} {safe_url(url)} timed out after {timeout:g} s", retryable=True) from exc
    except httpx.HTTPError as exc:
        raise HttpError(f"{method} {safe_url(url)} failed: {type(exc).__name__}: {exc}", retryable=True) from exc
    if raise_for_status and response.status_code >= 400:
        raise _classify(method, url, response, body)
    elapsed = int((time.monotonic() - started) * 1000)
    return HttpResult(response.status_code, dict(response.headers), _parse(response, body), elapsed)


def _content(data: Any) -> bytes | None:
    if data is None:
        return None
    return data.encode() if isinstance(data, str) else bytes(data)
