"""Keep credentials out of everything FAOS records or shows: step data, errors, events, e-mails, last_error.

A secret is hidden in its plain form and in every Base64 form that carries it (an HTTP Basic header, a token
wrapped by a vendor), whatever comes before it inside the encoded text (`user:secret`), standard or URL-safe.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

REDACTED = "[redacted]"
MIN_SECRET = 6  # shorter values (ports, "true") would redact ordinary text
# Header (and query parameter) names that carry credentials; an Idempotency-Key is not one (test runs show it).
SENSITIVE_NAME = re.compile(r"auth|token|(?<!idempotency-)key|secret|signature|password|cookie|session", re.I)
_BASE64_WORD = re.compile(r"[A-Za-z0-9+/_-]{6,}={0,2}")
_URL_SAFE = str.maketrans("+/", "-_")


def redact(value: Any, creds: Mapping) -> Any:
    """Replace every credential value, and its Base64 forms, wherever it appears in a str, dict or list."""
    secrets = _secrets(creds.values())
    return _redact(value, secrets, _cores(secrets)) if secrets else value


def _redact(value: Any, secrets: list[str], cores: set[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        if any(core in value for core in cores):  # cheap test first: the word scan runs only on a hit
            value = _BASE64_WORD.sub(lambda m: REDACTED if any(c in m.group() for c in cores) else m.group(), value)
        return value
    if isinstance(value, Mapping):
        return {k: _redact(v, secrets, cores) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, secrets, cores) for v in value]
    return value


def _secrets(values: Iterable) -> list[str]:
    """The distinct secret strings, longest first (a secret containing another goes whole)."""
    found = {str(v) for v in values if isinstance(v, str | int) and not isinstance(v, bool)}
    return sorted((s for s in found if len(s) >= MIN_SECRET), key=len, reverse=True)


def _cores(secrets: list[str]) -> set[str]:
    """Base64 fragments present in any encoding of a text containing the secret, at each of the 3 alignments."""
    cores = set()
    for secret in secrets:
        raw = secret.encode()
        for shift in range(3):
            encoded = base64.b64encode(b"\0" * shift + raw).decode()
            start, end = -(-8 * shift // 6), 8 * (shift + len(raw)) // 6  # chars made of the secret's bits only
            core = encoded[start:end]
            cores |= {core, core.translate(_URL_SAFE)}
    return {core for core in cores if len(core) >= MIN_SECRET}


def header_secrets(headers: Mapping | None) -> dict:
    """The credentials in headers whose names say so (Authorization, X-Api-Key…), also without their scheme."""
    found = {}
    for name, value in (headers or {}).items():
        if not SENSITIVE_NAME.search(str(name)) or value in (None, ""):
            continue
        value = str(value)
        found[f"{name}"] = value
        scheme, _, credential = value.partition(" ")
        if credential.strip():
            found[f"{name}:credential"] = credential.strip()
            if scheme.lower() == "basic":
                found[f"{name}:password"] = _basic_password(credential.strip())
    return {k: v for k, v in found.items() if v}


def _basic_password(encoded: str) -> str:
    """The password inside a Basic credential, or "" when it does not decode."""
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""
    return decoded.partition(":")[2]


def url_secrets(url: str, params: Mapping | None = None) -> dict:
    """The password in a URL's user info and the values of credential-named query parameters."""
    found = {}
    try:
        parts = urlsplit(str(url))
        found["url:password"] = parts.password or ""
        query = parse_qsl(parts.query, keep_blank_values=False)
    except ValueError:
        query = []
    for name, value in [*query, *(params or {}).items()]:
        if SENSITIVE_NAME.search(str(name)) and value not in (None, ""):
            found[f"query:{name}"] = str(value)
    return {k: v for k, v in found.items() if v}


def redact_headers(headers: Mapping) -> dict:
    """The headers with the values of credential-carrying ones replaced."""
    return {k: REDACTED if SENSITIVE_NAME.search(str(k)) else v for k, v in headers.items()}
