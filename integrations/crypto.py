"""Secrets at rest: Fernet encryption with a key list from the environment, so keys can rotate."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

# The public SECRET_KEY that FAOS shipped as its default before keys were generated per checkout.
LEGACY_DEFAULT_SECRET_KEY = "dev-only-insecure-secret-key-change-me-in-production"

# Decrypt-only keys for `rotate_keys --from-legacy-key` (a one-off upgrade step); never used to encrypt.
_upgrade_keys: tuple[str, ...] = ()


def legacy_key(secret_key: str) -> str:
    """The key older versions derived from SECRET_KEY when FAOS_ENCRYPTION_KEYS was unset."""
    return base64.urlsafe_b64encode(hashlib.sha256(b"faos-secrets:" + secret_key.encode()).digest()).decode()


def allow_legacy_decryption(secret_keys: Iterable[str]) -> None:
    """Let this process also decrypt what was written with keys derived from these old SECRET_KEYs."""
    global _upgrade_keys
    _upgrade_keys = tuple(legacy_key(secret) for secret in secret_keys)


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], decrypt_only: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            "FAOS_ENCRYPTION_KEYS is not set: generate a key with "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' "
            "(`make setup` writes one to var/local.env for local development)."
        )
    # MultiFernet encrypts with the first key and decrypts with any, so the extras only ever open old data.
    extras = [key for key in dict.fromkeys(decrypt_only) if key not in keys]
    return MultiFernet([Fernet(key.encode()) for key in (*keys, *extras)])


def fernet() -> MultiFernet:
    decrypt_only = _upgrade_keys
    if settings.DEBUG:
        # Local databases written before `make setup` generated keys used a key derived from SECRET_KEY:
        # in development only, still open them (`manage.py rotate_keys` re-encrypts with the new key).
        decrypt_only += (legacy_key(settings.SECRET_KEY), legacy_key(LEGACY_DEFAULT_SECRET_KEY))
    return _fernet(tuple(settings.FAOS_ENCRYPTION_KEYS), decrypt_only)


def encrypt(value) -> str:
    return fernet().encrypt(json.dumps(value).encode()).decode()


def decrypt(token: str):
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise ValueError(
            "cannot decrypt a stored secret: is FAOS_ENCRYPTION_KEYS missing the old key? (Written by a version "
            "that derived it from SECRET_KEY: run `manage.py rotate_keys --from-legacy-key` once.)"
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt with the newest key (MultiFernet.rotate)."""
    return fernet().rotate(token.encode()).decode()


class EncryptedJSONField(models.TextField):
    """A JSON value stored as Fernet ciphertext; the database never sees the plain text."""

    def from_db_value(self, value, expression, connection):
        return None if value in (None, "") else decrypt(value)

    def to_python(self, value):
        if value is None or not isinstance(value, str) or not value.startswith("gAAAA"):
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        return None if value is None else encrypt(value)
