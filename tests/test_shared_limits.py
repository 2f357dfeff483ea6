"""Shared limits: the throttles and the webhook rate limit count in one cache that every web process sees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from unittest.mock import patch

import pytest
import time_machine
from django.conf import settings
from django.core.cache import caches

from faos.cache import LOCAL_MEMORY_URL, REDIS_BACKEND, cache_config, count_in_window, default_cache_url, is_redis
from tests.api.test_webhooks import hook, post
from tests.e2e.conftest import database_url
from tests.test_settings import bare_env, settings_in

ROOT = Path(__file__).resolve().parents[1]
# The limit counts per clock minute: both processes deliver within the same (frozen) minute.
MINUTE = datetime(2026, 3, 2, 9, 30, 5, tzinfo=UTC)
DELIVER = """
import json, sys
import django, time_machine
django.setup()
from django.test import Client

token, count, frozen = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with time_machine.travel(frozen, tick=False):
    client = Client(HTTP_HOST="127.0.0.1")
    url = f"/api/hooks/{token}/"
    print(json.dumps([client.post(url, {"n": n}, content_type="application/json").status_code for n in range(count)]))
"""


def redis_url() -> str:
    """A Redis cache for the test: the suite's own when it is Redis, else next to a Redis broker."""
    if is_redis(settings.CACHES["default"]):
        return settings.CACHES["default"]["LOCATION"]
    url = default_cache_url(settings.CELERY_BROKER_URL)
    if url == LOCAL_MEMORY_URL:
        pytest.skip("needs Redis: run with CELERY_BROKER_URL=redis://… or CACHE_URL=redis://… (CI does)")
    return url


@pytest.fixture
def shared_cache_url(settings):
    """A Redis cache under a key prefix of its own, used by this process; yields the URL for another process."""
    url = f"{redis_url()}?key_prefix=faos-test-shared-{uuid.uuid4().hex[:8]}"
    settings.CACHES = {"default": cache_config(url)}
    yield url
    backend = caches["default"]
    client = backend._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{backend.key_prefix}:*"))
    if keys:
        client.delete(*keys)


def deliver_from_another_process(trigger, count: int, cache_url: str) -> list[int]:
    env = {
        **os.environ,
        "FAOS_ENV_FILES": "",
        "DATABASE_URL": database_url(),
        "CACHE_URL": cache_url,
        "CELERY_TASK_ALWAYS_EAGER": "true",  # the runs it starts finish in that process, nothing is queued
    }
    args = [sys.executable, "-c", DELIVER, trigger.token, str(count), MINUTE.isoformat()]
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.django_db(transaction=True)
def test_the_webhook_rate_limit_is_shared_between_processes_through_redis(shared_cache_url):
    trigger = hook("none", rate_per_minute=3)
    assert deliver_from_another_process(trigger, 2, shared_cache_url) == [202, 202]
    with time_machine.travel(MINUTE, tick=False):
        # This process counts on from the other's two deliveries: one more is allowed, then 429.
        assert [post(trigger, {"n": n}).status_code for n in range(2)] == [202, 429]
    # And the other process sees this one's: still over the limit in that minute.
    assert deliver_from_another_process(trigger, 1, shared_cache_url) == [429]


def test_the_default_cache_is_redis_next_to_a_redis_broker_else_local_memory():
    assert default_cache_url("redis://:secret@redis.internal:6379/0") == "redis://:secret@redis.internal:6379/1"
    assert default_cache_url("rediss://redis.internal:6380") == "rediss://redis.internal:6380/1"
    assert default_cache_url("redis://127.0.0.1:6379/15") == "redis://127.0.0.1:6379/0"  # never the broker's own
    assert default_cache_url("filesystem://localhost/") == LOCAL_MEMORY_URL
    assert default_cache_url("amqp://guest@127.0.0.1//") == LOCAL_MEMORY_URL

    redis = settings_in(bare_env(DEBUG="true", CELERY_BROKER_URL="redis://127.0.0.1:6379/2"), "CACHES")["CACHES"]
    assert redis["default"]["BACKEND"] == REDIS_BACKEND
    assert redis["default"]["LOCATION"] == "redis://127.0.0.1:6379/3" and redis["default"]["KEY_PREFIX"] == "faos"
    chosen = bare_env(DEBUG="true", CACHE_URL="redis://cache.internal:6379/4?key_prefix=acme&socket_timeout=2")
    chosen = settings_in(chosen, "CACHES")["CACHES"]["default"]
    assert (chosen["LOCATION"], chosen["KEY_PREFIX"]) == ("redis://cache.internal:6379/4", "acme")
    assert chosen["OPTIONS"] == {"socket_connect_timeout": 5, "socket_timeout": 2}  # as redis-py spells them
    local = settings_in(bare_env(DEBUG="true", CELERY_BROKER_URL="filesystem://localhost/"), "CACHES")["CACHES"]
    assert local["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"  # `make run`


def test_the_redis_cache_keeps_one_client_per_pool_instead_of_building_one_per_call(shared_cache_url):
    backend = caches["default"]
    assert backend._cache.get_client() is backend._cache.get_client(write=True)  # one server: one pool, one client
    assert backend.add("hook", 0, 60) and backend.incr("hook") == 1 and backend.get("hook") == 1
    pools = backend._cache._pools
    assert len(pools) == 1 and backend._cache.get_client().connection_pool is next(iter(pools.values()))


def test_a_window_count_is_one_round_trip_on_redis_and_expires_with_its_window(shared_cache_url):
    backend = caches["default"]
    client = backend._cache.get_client(write=True)
    connection_class, sent = client.connection_pool.connection_class, []
    real = connection_class.send_packed_command

    def spy(connection, command, *args, **kwargs):
        sent.append(b"".join(command) if isinstance(command, list) else command)
        return real(connection, command, *args, **kwargs)

    with patch.object(connection_class, "send_packed_command", spy):
        counts = [count_in_window("hook:window", 60) for _ in range(3)]
    writes = [command for command in sent if b"hook:window" in command]
    assert counts == [1, 2, 3] and len(writes) == 3  # one write per count: the SET NX and the INCR go together
    assert all(b"SET" in command and b"NX" in command and b"INCR" in command for command in writes)
    assert 0 < client.ttl(backend.make_and_validate_key("hook:window")) <= 60
    assert backend.get("hook:window") == 3  # Django's cache reads the count as it wrote it


def test_a_window_count_in_local_memory_counts_too(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "w"}}
    assert [count_in_window("hook:local", 60) for _ in range(3)] == [1, 2, 3]
