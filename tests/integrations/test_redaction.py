"""Redaction: a credential is hidden in its plain form and in every Base64 form that carries it."""

import base64

import pytest

from integrations.redaction import REDACTED, header_secrets, redact, url_secrets

SECRET = "s3cr3t-canary-Zx9"


def b64(text: str, *, url_safe: bool = False) -> str:
    encode = base64.urlsafe_b64encode if url_safe else base64.b64encode
    return encode(text.encode()).decode()


@pytest.mark.parametrize("user", ["", "a", "ab", "support@example.com", "acme/token"])
@pytest.mark.parametrize("url_safe", [False, True])
def test_redaction_hides_the_base64_basic_form_of_a_credential_at_every_alignment(user, url_safe):
    encoded = b64(f"{user}:{SECRET}", url_safe=url_safe)
    text = f'{{"echo": "Authorization: Basic {encoded}", "ok": false}}'
    assert redact(text, {"api_token": SECRET}) == f'{{"echo": "Authorization: Basic {REDACTED}", "ok": false}}'


def test_redaction_hides_plain_and_encoded_forms_in_nested_results():
    value = {"a": [f"token {SECRET}", {"b": b64(SECRET)}], "n": 3, "flag": True}
    assert redact(value, {"key": SECRET}) == {"a": [f"token {REDACTED}", {"b": REDACTED}], "n": 3, "flag": True}


def test_redaction_leaves_ordinary_text_and_short_values_alone():
    text = "Basic information about port 587 and TLS: true"
    assert redact(text, {"api_key": SECRET, "port": 587, "use_tls": "true"}) == text


def test_credentials_in_typed_headers_are_found_with_and_without_their_scheme():
    headers = {
        "Authorization": f"Bearer {SECRET}",
        "Proxy-Authorization": f"Basic {b64('me:' + SECRET + '-2')}",
        "X-Api-Key": "k-" + SECRET,
        "Idempotency-Key": "faos-1-step",
        "Accept": "application/json",
    }
    found = set(header_secrets(headers).values())
    assert {f"Bearer {SECRET}", SECRET, f"{SECRET}-2", f"k-{SECRET}"} <= found
    assert "faos-1-step" not in found and "application/json" not in found


def test_credentials_in_a_url_are_its_password_and_token_parameters():
    found = url_secrets(
        f"https://me:{SECRET}@api.example.com/x?api_key=k-{SECRET}&page=2", {"access_token": "t-123456"}
    )
    assert set(found.values()) == {SECRET, f"k-{SECRET}", "t-123456"}
