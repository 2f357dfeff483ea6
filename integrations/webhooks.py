"""Webhook authentication: each provider's signature scheme over the raw body, compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import UTC, datetime

SCHEMES = {
    "none": "No authentication (the secret URL only)",
    "token": "Secret token header",
    "hmac_sha256": "HMAC-SHA256 of the body",
    "stripe": "Stripe (Stripe-Signature)",
    "shopify": "Shopify (X-Shopify-Hmac-Sha256)",
    "woocommerce": "WooCommerce (X-WC-Webhook-Signature)",
    "slack": "Slack (signing secret)",
    "hubspot_v3": "HubSpot (signature v3)",
    "zendesk": "Zendesk (webhook signature)",
}
# Schemes whose secret FAOS chooses: a webhook trigger gets one generated when it is saved without one. The
# providers' schemes check a secret the provider issues (Stripe's whsec_…), which must be pasted in instead.
GENERATED_SECRET = ("token", "hmac_sha256")


def needs_secret(scheme: str) -> bool:
    return scheme != "none"


# Schemes whose signature belongs to one delivery (it covers a unique body or a timestamp), so a
# second request with the same signed content is a replay; the generic HMAC may sign repeated bodies.
REPLAY_KEYED = ("stripe", "shopify", "woocommerce", "slack", "hubspot_v3", "zendesk")
# A provider's own event id inside the signed body beats the signature digest: its retries re-sign.
SIGNED_ID_FIELDS = {"stripe": "id", "slack": "event_id"}


class SignatureError(Exception):
    """Verification failed; `status` is 401 (missing credentials) or 403 (wrong signature or stale timestamp)."""

    def __init__(self, message: str, *, status: int = 403):
        super().__init__(message)
        self.status = status


def _mac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def _required(headers: dict, name: str) -> str:
    value = headers.get(name.lower())
    if not value:
        raise SignatureError(f"Missing {name} header.", status=401)
    return value


def _moment(timestamp: str, millis: bool) -> float:
    """Seconds since the epoch from Unix seconds (or milliseconds) or ISO 8601 (Zendesk's form)."""
    try:
        return float(timestamp) / (1000 if millis else 1)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(timestamp.strip())
    except ValueError:
        raise SignatureError("Malformed signature timestamp.") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _fresh(timestamp: str, now: float, tolerance: int, *, millis: bool = False) -> None:
    moment = _moment(timestamp, millis)
    if not abs(now - moment) <= tolerance:  # also refuses nan
        raise SignatureError("Signature timestamp outside the allowed window (replayed or clock skew).")


def _any_match(candidates: list[bytes], expected: list[bytes]) -> bool:
    return any(hmac.compare_digest(c, e) for c in candidates for e in expected)


def verify(
    scheme: str,
    *,
    body: bytes,
    headers: Mapping[str, str],
    secrets: list[str],
    now: float | None = None,
    tolerance: int = 300,
    header: str | None = None,
    method: str = "POST",
    url: str = "",
) -> str | None:
    """Raise SignatureError unless the request carries a valid credential for one of `secrets`.

    Returns a digest of what the signature covers for schemes in REPLAY_KEYED (the replay key), else None.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown webhook auth scheme '{scheme}'")
    if scheme == "none":
        return None
    if not secrets:
        raise SignatureError("This webhook has no secret configured.", status=403)
    lower = {k.lower(): v for k, v in headers.items()}
    now = time.time() if now is None else now
    check = {
        "token": _token,
        "hmac_sha256": _hmac_body,
        "stripe": _stripe,
        "shopify": _shopify,
        "woocommerce": _woocommerce,
        "slack": _slack,
        "hubspot_v3": _hubspot,
        "zendesk": _zendesk,
    }[scheme]
    signed = check(lower, body, secrets, now=now, tolerance=tolerance, header=header, method=method, url=url)
    if signed is None:
        raise SignatureError("Signature does not match.")
    return hashlib.sha256(signed).hexdigest() if scheme in REPLAY_KEYED else None


def delivery_id(scheme: str, payload: dict, signed_digest: str | None) -> str | None:
    """The id of a verified delivery that its signature vouches for: the provider's event id, else the digest."""
    value = payload.get(SIGNED_ID_FIELDS.get(scheme, ""))
    if isinstance(value, str) and value:
        return f"{scheme}:{value}"
    return f"signed:{signed_digest}" if signed_digest else None


# Each check returns the bytes its signature covers when one of the secrets matches, else None.


def _token(h, body, secrets, *, header, **_):
    given = _required(h, header or "X-Webhook-Token").encode()
    return b"" if _any_match([given], [s.encode() for s in secrets]) else None


def _hmac_body(h, body, secrets, *, header, **_):
    given = _required(h, header or "X-Signature-256").removeprefix("sha256=").strip().encode()
    return body if _any_match([given], [_mac(s, body).hex().encode() for s in secrets]) else None


def _stripe(h, body, secrets, *, now, tolerance, **_):
    parts = [p.split("=", 1) for p in _required(h, "Stripe-Signature").split(",") if "=" in p]
    timestamp = next((v for k, v in parts if k.strip() == "t"), None)
    given = [v.strip().encode() for k, v in parts if k.strip() == "v1"]
    if not timestamp or not given:
        raise SignatureError("Malformed Stripe-Signature header.")
    _fresh(timestamp, now, tolerance)
    signed = f"{timestamp}.".encode() + body
    return signed if _any_match(given, [_mac(s, signed).hex().encode() for s in secrets]) else None


def _shopify(h, body, secrets, **_):
    given = _required(h, "X-Shopify-Hmac-Sha256").strip().encode()
    return body if _any_match([given], [base64.b64encode(_mac(s, body)) for s in secrets]) else None


def _woocommerce(h, body, secrets, **_):
    # WooCommerce signs like Shopify (base64 HMAC-SHA256 of the body) under its own header.
    given = _required(h, "X-WC-Webhook-Signature").strip().encode()
    return body if _any_match([given], [base64.b64encode(_mac(s, body)) for s in secrets]) else None


def _slack(h, body, secrets, *, now, tolerance, **_):
    timestamp = _required(h, "X-Slack-Request-Timestamp")
    given = _required(h, "X-Slack-Signature").strip().encode()
    _fresh(timestamp, now, tolerance)
    base = f"v0:{timestamp}:".encode() + body
    return base if _any_match([given], [b"v0=" + _mac(s, base).hex().encode() for s in secrets]) else None


def _hubspot(h, body, secrets, *, now, method, url, **_):
    timestamp = _required(h, "X-HubSpot-Request-Timestamp")
    given = _required(h, "X-HubSpot-Signature-v3").strip().encode()
    _fresh(timestamp, now, 300, millis=True)
    base = f"{method}{url}".encode() + body + timestamp.encode()
    return base if _any_match([given], [base64.b64encode(_mac(s, base)) for s in secrets]) else None


def _zendesk(h, body, secrets, *, now, tolerance, **_):
    # Zendesk signs base64(HMAC-SHA256(timestamp + body)); the timestamp is ISO 8601 and bounds replays.
    timestamp = _required(h, "X-Zendesk-Webhook-Signature-Timestamp")
    given = _required(h, "X-Zendesk-Webhook-Signature").strip().encode()
    _fresh(timestamp, now, tolerance)
    base = timestamp.encode() + body
    return base if _any_match([given], [base64.b64encode(_mac(s, base)) for s in secrets]) else None


def sign(
    scheme: str,
    *,
    body: bytes,
    secret: str,
    timestamp: int | None = None,
    method: str = "POST",
    url: str = "",
    header: str | None = None,
) -> dict[str, str]:
    """The headers a sender sets for this scheme (tests and the admin's curl example use it)."""
    ts = int(time.time()) if timestamp is None else timestamp
    if scheme == "token":
        return {header or "X-Webhook-Token": secret}
    if scheme == "hmac_sha256":
        return {header or "X-Signature-256": "sha256=" + _mac(secret, body).hex()}
    if scheme == "stripe":
        return {"Stripe-Signature": f"t={ts},v1={_mac(secret, f'{ts}.'.encode() + body).hex()}"}
    if scheme == "shopify":
        return {"X-Shopify-Hmac-Sha256": base64.b64encode(_mac(secret, body)).decode()}
    if scheme == "woocommerce":
        return {"X-WC-Webhook-Signature": base64.b64encode(_mac(secret, body)).decode()}
    if scheme == "slack":
        return {
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": "v0=" + _mac(secret, f"v0:{ts}:".encode() + body).hex(),
        }
    if scheme == "hubspot_v3":
        ms = str(ts * 1000)
        digest = _mac(secret, f"{method}{url}".encode() + body + ms.encode())
        return {"X-HubSpot-Request-Timestamp": ms, "X-HubSpot-Signature-v3": base64.b64encode(digest).decode()}
    if scheme == "zendesk":
        iso = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "X-Zendesk-Webhook-Signature-Timestamp": iso,
            "X-Zendesk-Webhook-Signature": base64.b64encode(_mac(secret, iso.encode() + body)).decode(),
        }
    return {}
