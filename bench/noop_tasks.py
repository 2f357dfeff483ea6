"""A raw Celery no-op task for the baseline chain (registered on the project's app)."""

import redis
from django.conf import settings

from faos.celery import app


@app.task(name="bench.noop", ignore_result=True)
def noop(previous=None, done_key=None):
    """Does nothing; the last task of a chain marks the chain done in Redis (results are off in this project)."""
    if done_key:
        redis.Redis.from_url(settings.CELERY_BROKER_URL).set(done_key, 1, ex=600)
