"""Signature verifiers: timestamps bound replays, and what a signature covers is the delivery's replay key."""

import json
import time

import pytest

from integrations.webhooks import SignatureError, delivery_id, sign, verify

SECRET = "whsec_test_123"
BODY = json.dumps({"ticket": {"id": 35436}}).encode()


def check(scheme, headers, body=BODY, **kw):
    return verify(scheme, body=body, headers=headers, secrets=[SECRET], **kw)


@pytest.mark.parametrize("age", [-600, 600])
def test_stale_zendesk_timestamp_is_refused(age):
    headers = sign("zendesk", body=BODY, secret=SECRET, timestamp=int(time.time()) - age)
    with pytest.raises(SignatureError, match="window"):
        check("zendesk", headers)


def test_zendesk_signs_its_iso_8601_timestamp_followed_by_the_body():
    headers = sign("zendesk", body=BODY, secret=SECRET, timestamp=1_700_000_000)
    assert headers["X-Zendesk-Webhook-Signature-Timestamp"] == "2023-11-14T22:13:20Z"
    assert check("zendesk", headers, now=1_700_000_100) is not None
    with pytest.raises(SignatureError, match="window"):
        check("zendesk", headers, now=1_700_000_000 + 301)


@pytest.mark.parametrize("timestamp", ["yesterday", "nan", "inf", ""])
def test_malformed_zendesk_timestamps_are_refused(timestamp):
    headers = {**sign("zendesk", body=BODY, secret=SECRET), "X-Zendesk-Webhook-Signature-Timestamp": timestamp}
    with pytest.raises(SignatureError):
        check("zendesk", headers)


def test_a_replay_has_the_same_key_and_a_new_delivery_another():
    first = sign("slack", body=BODY, secret=SECRET, timestamp=int(time.time()))
    later = sign("slack", body=BODY, secret=SECRET, timestamp=int(time.time()) + 1)
    assert check("slack", first) == check("slack", dict(first)) != check("slack", later, now=time.time() + 1)
    assert check("token", {"X-Webhook-Token": SECRET}) is None  # a token signs no delivery


def test_the_providers_signed_event_id_is_the_delivery_id():
    assert delivery_id("stripe", {"id": "evt_1"}, "abc") == "stripe:evt_1"
    assert delivery_id("slack", {"event_id": "Ev1"}, "abc") == "slack:Ev1"
    assert delivery_id("shopify", {"id": 5}, "abc") == "signed:abc"
    assert delivery_id("token", {"id": "evt_1"}, None) is None
