"""Each pytest-xdist worker gets its own broker: its own Redis database (and so its own cache database) and its own
filesystem-broker folder. Test databases are already per worker (pytest-django adds the worker's id to the name).

Loaded with `-p tests.xdist_workers` (pyproject's addopts), so it runs before Django reads the settings; the e2e
tests' Celery workers inherit the environment, so a worker never takes another's messages. Without xdist it does
nothing."""

import os
import re

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, … set by pytest-xdist before it loads plugins


def _own_redis_database(url: str, index: int) -> str:
    """redis://host:port/N → the same server, database N + 2 × (index + 1) (mod 16): the broker's cache takes the
    database after the broker's (faos.cache), so two per worker."""
    match = re.match(r"^(rediss?://[^/]+)(?:/(\d+))?(.*)$", url)
    if not match:
        return url
    base, database, rest = match.group(1), int(match.group(2) or 0), match.group(3)
    return f"{base}/{(database + 2 * (index + 1)) % 16}{rest}"


if WORKER:
    index = int(WORKER.removeprefix("gw") or 0)
    if os.environ.get("CELERY_BROKER_URL", "").startswith("redis"):
        os.environ["CELERY_BROKER_URL"] = _own_redis_database(os.environ["CELERY_BROKER_URL"], index)
    os.environ["FAOS_BROKER_DIR"] = f"{os.environ.get('FAOS_BROKER_DIR', 'var/test-broker')}-{WORKER}"
