"""Raw Celery tasks for the baseline chains (registered on the project's app; the worker imports them with -I)."""

import httpx
import redis
from django.conf import settings

from faos.celery import app


def _done(done_key):
    """The last task of a chain counts its chain done in Redis (results are off in this project)."""
    if done_key:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        client.incr(done_key)
        client.expire(done_key, 600)


@app.task(name="bench.noop", ignore_result=True)
def noop(previous=None, done_key=None):
    """Does nothing."""
    _done(done_key)


@app.task(name="bench.http_call", ignore_result=True)
def http_call(previous=None, url="", key="", done_key=None):
    """One POST to the fake vendor, as an http_request step makes it (JSON body, an idempotency key)."""
    httpx.post(url, json={"key": key}, headers={"Idempotency-Key": key}, timeout=30).raise_for_status()
    _done(done_key)
