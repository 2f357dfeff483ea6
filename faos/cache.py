"""The default cache, where the API throttles and the webhook rate limits count (settings CACHES).

Every web process must see the same counters, or a limit multiplies by the number of processes: with a
Redis broker the default is a Redis cache on the same server; without one, each process's own memory.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import environ

DJANGO_REDIS_BACKEND = "django.core.cache.backends.redis.RedisCache"
REDIS_BACKEND = "faos.redis_cache.RedisCache"  # Django's, reusing its clients
LOCAL_MEMORY_URL = "locmemcache://"
REDIS_DATABASES = 16  # Redis's default `databases`
# A cache that does not answer must not hold a request (or a whole gunicorn thread) for long.
REDIS_TIMEOUTS = {"socket_connect_timeout": 5, "socket_timeout": 5}


def default_cache_url(broker_url: str) -> str:
    """The broker's Redis server, next database (broker /0 → cache /1, /15 → /0); else local memory.

    Never the broker's own database: Django's `cache.clear()` empties the whole database it is in.
    """
    parts = urlsplit(broker_url)
    if parts.scheme not in ("redis", "rediss"):
        return LOCAL_MEMORY_URL
    db = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(db + 1) % REDIS_DATABASES}"))


def cache_config(url: str, key_prefix: str = "faos") -> dict:
    """CACHES["default"] for a cache URL (django-environ's schemes), with Redis options Django's backend takes."""
    config = environ.Env.cache_url_config(url)
    config.setdefault("KEY_PREFIX", key_prefix)  # `?key_prefix=…` in the URL wins
    if config["BACKEND"] == DJANGO_REDIS_BACKEND:
        config["BACKEND"] = REDIS_BACKEND
        # django-environ upper-cases options from the query string; redis-py wants them as written.
        options = {name.lower(): value for name, value in config.get("OPTIONS", {}).items()}
        config["OPTIONS"] = {**REDIS_TIMEOUTS, **options}
    return config


def is_redis(config: dict) -> bool:
    return config.get("BACKEND") == REDIS_BACKEND


def count_in_window(key: str, seconds: int) -> int:
    """Add one to a counter in the default cache that lives `seconds` from its first count; the new count."""
    from django.core.cache import cache

    if hasattr(cache, "count_in_window"):  # Redis: one round trip
        return cache.count_in_window(key, seconds)
    cache.add(key, 0, seconds)
    return cache.incr(key)
