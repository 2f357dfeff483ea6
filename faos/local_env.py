"""Write var/local.env for local development, once: DEBUG on and keys generated for this checkout.

`make setup` runs `python -m faos.local_env`; settings read the file (the real environment wins). It is
never rewritten, so restarts keep decrypting what was stored. It is git-ignored and only for a developer's
machine: production sets DEBUG, SECRET_KEY and FAOS_ENCRYPTION_KEYS in its own environment.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_PATH = BASE_DIR / "var" / "local.env"


def render() -> str:
    return (
        "# Local development settings, written once by `make setup`: never use them in production.\n"
        "# Deleting this file loses the key to the credentials stored in this checkout's database.\n"
        "DEBUG=true\n"
        f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
        f"FAOS_ENCRYPTION_KEYS={base64.urlsafe_b64encode(os.urandom(32)).decode()}\n"
    )


def ensure(path: Path = DEFAULT_PATH) -> bool:
    """Create the file if it is missing; True if it was created."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(render())
    return True


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH
    if ensure(target):
        print(f"Wrote {target} (DEBUG on, new SECRET_KEY and FAOS_ENCRYPTION_KEYS for local development).")
