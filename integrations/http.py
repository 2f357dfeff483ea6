"""Outbound HTTP for steps and connectors: SSRF-guarded, size-capped, failures classified for retries.

No Django here: callers build the HttpPolicy from their settings. Every request, redirects included, is checked
by _PinnedTransport, which then connects to the very address it checked (no second DNS lookup to rebind).
Request headers carry secrets: nothing here logs them or puts them in messages.
"""

from __future__ import annotations

import functools
import ipaddress
import json as jsonlib
import math
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

EXCERPT_CHARS = 500
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_REASONS = (  # order matters: 169.254/16 and 0/8 are "private" too, the specific label is clearer
    ("is_loopback", "a loopback address"),
    ("is_link_local", "a link-local address"),
    ("is_multicast", "a multicast address"),
    ("is_unspecified", "an unspecified address"),
    ("is_private", "a private address"),
    ("is_reserved", "a reserved address"),
)


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
    """The URL points somewhere steps may not reach (scheme, loopback, private, link-local…); never retried."""

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
    """A response: body is the parsed JSON when the response is JSON, else text."""

    status: int
    headers: dict[str, str]
    body: Any
    elapsed_ms: int


def safe_url(url: str | httpx.URL) -> str:
    """The URL without user info, query or fragment, for messages (they may carry secrets)."""
    try:
        return str(httpx.URL(str(url)).copy_with(username=None, password=None, query=None, fragment=None))
    except (httpx.InvalidURL, TypeError, ValueError):
        return "<invalid URL>"


def _parse_url(url: str | httpx.URL) -> httpx.URL:
    """The URL as httpx will send it (the transport checks this same parse), or a non-retryable error."""
    try:
        return httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise HttpError(f"invalid URL: {exc}", retryable=False) from exc


def _with_params(url: httpx.URL, params: Mapping | None) -> httpx.URL:
    """The URL with params merged into its query (httpx alone would drop the URL's own query)."""
    try:
        return url.copy_merge_params(params) if params else url
    except TypeError as exc:
        raise HttpError(f"invalid query parameters: {exc}", retryable=False) from exc


def _unwrap(address: Address) -> Address:
    """The IPv4 address embedded in an IPv4-mapped, 6to4 or NAT64 IPv6 address, else the address itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped or address.sixtofour:
            return address.ipv4_mapped or address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _why_blocked(address: Address) -> str | None:
    """Why steps may not reach this address, or None when it is public."""
    address = _unwrap(address)
    if address in _UNIQUE_LOCAL:
        return "a unique-local address"
    for attribute, reason in _REASONS:
        if getattr(address, attribute):
            return reason
    return None if address.is_global else "a non-public address"


def _allowed(host: str, address: Address, policy: HttpPolicy) -> bool:
    """Whether the allow-list names this host, this address, or a network containing it."""
    for entry in policy.allow_hosts:
        entry = entry.strip().lower().rstrip(".")
        if entry == host:
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if address in network or _unwrap(address) in network:
            return True
    return False


def _resolve(host: str) -> list[Address]:
    """Every address the host resolves to; numeric forms such as 2130706433 or 0x7f000001 included."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise HttpError(f"could not resolve host '{host}': {exc}", retryable=True) from exc
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
    if not addresses:
        raise HttpError(f"could not resolve host '{host}': no addresses", retryable=True)
    return addresses


def _checked_addresses(url: httpx.URL, policy: HttpPolicy) -> list[Address]:
    """The addresses this URL may be fetched from; raises BlockedURLError when any of them is off limits."""
    if url.scheme.lower() not in policy.allowed_schemes:
        allowed = ", ".join(sorted(policy.allowed_schemes))
        raise BlockedURLError(f"scheme '{url.scheme}' is not allowed in {safe_url(url)} (allowed: {allowed})")
    host = url.host.lower().rstrip(".")
    if not host:
        raise BlockedURLError(f"'{safe_url(url)}' has no host")
    if url.port is not None and not 0 < url.port < 65536:
        raise HttpError(f"invalid port {url.port} in {safe_url(url)}", retryable=False)
    addresses = _resolve(host)
    for address in addresses:
        reason = _why_blocked(address)
        if reason and not _allowed(host, address, policy):
            raise BlockedURLError(f"'{host}' resolves to {address}, {reason}, which is not allow-listed")
    return addresses


def check_url(url: str, policy: HttpPolicy) -> list[Address]:
    """The URL host's addresses, each public or allowed; BlockedURLError when its scheme or one address is not.

    Callers that open their own sockets (SMTP) connect to these addresses: a second lookup could be rebound.
    """
    return _checked_addresses(_parse_url(url), policy)


def _pinned(request: httpx.Request, address: Address) -> httpx.Request:
    """A copy of the request aimed at the checked address; Host header and TLS SNI keep the original name."""
    extensions = dict(request.extensions)
    if request.url.scheme == "https":
        extensions.setdefault("sni_hostname", request.url.host)
    url = request.url.copy_with(host=str(address))
    return httpx.Request(request.method, url, headers=request.headers, stream=request.stream, extensions=extensions)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The verifying TLS context every outbound client shares (certifi's CAs, as httpx's default).

    Built once: loading the CA bundle costs 20-30 ms of CPU, which a context per request paid on every HTTP step
    and connector call. An SSLContext is safe to share between threads once configured.
    """
    return httpx.create_ssl_context(trust_env=False)


class _PinnedTransport(httpx.HTTPTransport):
    """Checks every request (redirects included) and connects only to the addresses it checked."""

    def __init__(self, policy: HttpPolicy):
        # No keep-alive: a pooled connection to one IP must not be reused for another name (other SNI).
        limits = httpx.Limits(max_keepalive_connections=0)
        super().__init__(verify=tls_context(), limits=limits, trust_env=False)
        self.policy = policy

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Check, then try each checked address in resolver order until one connects."""
        addresses = _checked_addresses(request.url, self.policy)
        for address in addresses[:-1]:
            try:
                return super().handle_request(_pinned(request, address))
            except httpx.ConnectError:
                continue
        return super().handle_request(_pinned(request, addresses[-1]))


_ENCODED = {"content-encoding", "content-length", "transfer-encoding"}  # describe the bytes before _read decoded them


class _SdkClient(httpx.Client):
    """A client that never follows a redirect, whatever a caller (an SDK) asks, and reads at most the policy's size."""

    def __init__(self, policy: HttpPolicy, **kwargs):
        super().__init__(transport=_PinnedTransport(policy), trust_env=False, **kwargs)
        self.max_bytes = policy.max_response_bytes

    def send(self, request: httpx.Request, *, stream: bool = False, **kwargs) -> httpx.Response:
        kwargs["follow_redirects"] = False
        response = super().send(request, stream=True, **kwargs)
        if stream:  # the caller reads the stream itself (the providers here never ask)
            return response
        try:  # decoded bytes are counted: a small compressed body cannot expand past the limit
            raw = _read(response, self.max_bytes, f"{request.method} {safe_url(request.url)}")
        finally:
            response.close()
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _ENCODED]
        read = httpx.Response(response.status_code, headers=headers, content=raw, request=request)
        read.elapsed = response.elapsed
        return read


def sdk_client(policy: HttpPolicy, timeout: float) -> httpx.Client:
    """An httpx client for vendor SDKs (OpenAI, Anthropic): every request checked and pinned, redirects refused.

    Refused, not followed: a redirect would carry the prompt and the API key (X-Api-Key survives a change of
    host in httpx) to wherever the base URL points next. The SDK sees the 3xx as an error status.
    """
    return _SdkClient(policy, timeout=timeout)


def blocked_cause(exc: BaseException | None) -> HttpError | None:
    """The HttpError (a refused address, a failed lookup) an SDK wrapped in its own connection error, if any."""
    for _ in range(10):  # chains are short; the bound guards against a cycle
        if exc is None or isinstance(exc, HttpError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date), or None."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _status_error(method: str, url: str, response: httpx.Response, text: str) -> HttpError:
    """An HttpError for a 4xx/5xx answer: 5xx, 408 and 429 are retryable, other 4xx are not."""
    status = response.status_code
    retryable = status >= 500 or status in (408, 429)
    excerpt = text[:EXCERPT_CHARS].strip() + ("…" if len(text) > EXCERPT_CHARS else "")
    message = f"{method} {safe_url(url)} answered HTTP {status}" + (f": {excerpt}" if excerpt else "")
    retry_after = parse_retry_after(response.headers.get("Retry-After")) if retryable else None
    return HttpError(message, retryable=retryable, status=status, retry_after=retry_after, response_body=text)


def _caused_by_certificate(exc: BaseException) -> bool:
    """Whether a certificate check failed somewhere in the exception chain (retrying will not fix it)."""
    for _ in range(10):  # chains are short; the bound guards against a cycle
        if exc is None or isinstance(exc, ssl.SSLCertVerificationError):
            return exc is not None
        exc = exc.__cause__ or exc.__context__
    return False


def _transport_error(method: str, url: str, exc: httpx.HTTPError, timeout: float) -> HttpError:
    """Classify a failure below HTTP: timeouts, network and dropped connections are retryable."""
    where = f"{method} {safe_url(url)}"
    if isinstance(exc, httpx.TimeoutException):
        return HttpError(f"{where} timed out after {timeout:g} s", retryable=True)
    if isinstance(exc, httpx.TooManyRedirects):
        return HttpError(f"{where}: too many redirects", retryable=False)
    if isinstance(exc, httpx.LocalProtocolError):  # its text may quote a header value: leave it out
        return HttpError(f"{where}: the request is malformed (check header names and values)", retryable=False)
    if _caused_by_certificate(exc):
        return HttpError(f"{where}: TLS certificate verification failed", retryable=False)
    retryable = isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError)
    return HttpError(f"{where} failed: {exc or type(exc).__name__}", retryable=retryable)


def _read(response: httpx.Response, limit: int, where: str) -> bytes:
    """The (decoded) body, refused as soon as it grows past the limit."""
    too_big = HttpError(f"{where}: response larger than {limit} bytes", retryable=False)
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def _body(response: httpx.Response, raw: bytes) -> tuple[Any, str]:
    """The parsed body (JSON when declared and valid, else text) and its text."""
    text = raw.decode(response.encoding or "utf-8", "replace")
    if "json" in response.headers.get("Content-Type", "").lower() and raw.strip():
        try:
            return jsonlib.loads(raw), text
        except ValueError:
            pass
    return text, text


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
    """Send one request under the policy; raise HttpError (BlockedURLError for refused targets) on failure."""
    method, target = method.upper(), _with_params(_parse_url(url), params)
    where = f"{method} {safe_url(target)}"
    form, content = (data, None) if isinstance(data, Mapping) else (None, data)  # a dict is form-encoded
    started = time.monotonic()
    options = {"transport": _PinnedTransport(policy), "timeout": timeout, "trust_env": False}
    try:
        with (
            httpx.Client(follow_redirects=True, max_redirects=policy.max_redirects, **options) as client,
            client.stream(
                method, target, headers=headers, json=json, content=content, data=form, auth=auth
            ) as response,
        ):
            raw = _read(response, policy.max_response_bytes, where)
    except httpx.HTTPError as exc:
        raise _transport_error(method, url, exc, timeout) from exc
    except UnicodeEncodeError as exc:  # a header value outside ASCII; str(exc) does not quote it
        raise HttpError(f"{where}: the request is malformed ({exc.reason})", retryable=False) from exc
    body, text = _body(response, raw)
    if raise_for_status and response.status_code >= 400:
        raise _status_error(method, url, response, text)
    elapsed_ms = int((time.monotonic() - started) * 1000)
    return HttpResult(response.status_code, dict(response.headers), body, elapsed_ms)
