"""Secrets at rest: Fernet encryption with a key list from the environment, so keys can rotate."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        # Development default: derived from SECRET_KEY. Production sets FAOS_ENCRYPTION_KEYS.
        keys = (base64.urlsafe_b64encode(hashlib.sha256(b"faos-secrets:" + secret_key.encode()).digest()).decode(),)
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FAOS_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(value) -> str:
    return fernet().encrypt(json.dumps(value).encode()).decode()


def decrypt(token: str):
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise ValueError("cannot decrypt a stored secret: is FAOS_ENCRYPTION_KEYS missing the old key?") from exc


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
