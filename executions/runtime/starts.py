"""Batched starts: on a Redis broker, new runs of the steps queue wait in one list, and one message has a worker run
several of them.

A Celery message a run costs the worker about as much CPU as the run's ten inline steps (the prefork pool's hand-off
to its process, the broker's delivery and ack). So a run's start appends its id to the list and rings a bell: only
the first start after the bell was answered sends a message (`drain_starts`). The worker that takes it answers the
bell and takes runs off the list one at a time, up to BATCH, running each as its own message would have; while more
wait it rings again, so another process joins in and no run waits behind a slow one.

The database stays the truth. An id taken by a worker that then died is a runnable step nobody claimed: the sweep
tells it again as it does a lost message (the list counts as queued work, so a backlog is not mistaken for a loss).
The bell expires, so a lost drain message delays the next start by BELL_SECONDS at most. Without Redis (the
filesystem broker, RabbitMQ), eager tasks or FAOS_BATCHED_STARTS off, each start sends its own message as before.
"""

from __future__ import annotations

import atexit
import logging
import time
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

LIST_KEY = "faos:starts:steps"
BELL_KEY = "faos:starts:steps:bell"
BATCH = 16  # runs one drain task runs at most, so that it also yields the worker
# ... and it takes no more after this long: a process held by a drain of slow runs (vendor calls) would keep the
# sweep's recovered steps, which go ahead of new runs, waiting behind all of them.
DRAIN_SECONDS = 0.5
BELL_SECONDS = 5  # a bell nobody answered (its message lost) rings again on the next start after this


# One round trip: the oldest run off the list and, if more wait, the bell rung (unless it already is); returns
# {the run's id or nil, whether this rang}. A script, so no start can slip between the look and the ring.
TAKE_ONE = """
local value = redis.call('LPOP', KEYS[1])
local rang = 0
if value and redis.call('LLEN', KEYS[1]) > 0 and redis.call('SET', KEYS[2], 1, 'NX', 'EX', ARGV[1]) then
    rang = 1
end
return {value, rang}
"""


def _broker_is_redis() -> bool:
    return settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://"))


def enabled() -> bool:
    """Whether starts are batched here: a Redis broker, real workers, and the setting on."""
    from faos.celery import app

    return settings.FAOS_BATCHED_STARTS and _broker_is_redis() and not app.conf.task_always_eager


@lru_cache(maxsize=4)
def _client(url: str):
    import redis

    from faos.cache import REDIS_TIMEOUTS

    # Its pool is thread-safe and reopens its connections after a fork; a hung Redis fails a start in seconds
    # (which then sends its own message) instead of holding the request.
    return redis.Redis.from_url(url, **REDIS_TIMEOUTS)


# Let the clients go while the interpreter still works: redis-py's __del__ at shutdown fails noisily without `os`.
atexit.register(_client.cache_clear)


def client():
    """This process's client of the broker's Redis database."""
    return _client(settings.CELERY_BROKER_URL)


def announce(execution_id: int) -> None:
    """Queue this run's start once the current transaction has committed (a worker must find its rows)."""
    transaction.on_commit(lambda: _push(execution_id))


def _push(execution_id: int) -> None:
    from redis.exceptions import RedisError

    try:
        pipe = client().pipeline(transaction=False)
        pipe.rpush(LIST_KEY, execution_id)
        pipe.set(BELL_KEY, 1, nx=True, ex=BELL_SECONDS)
        _, rang = pipe.execute()
    except RedisError as error:  # send the run's own message, as without batching (the sweep covers a failure)
        logger.warning("could not queue the start of run %s (%s); sending its message", execution_id, error)
        _send("executions.tasks.run_execution", execution_id)
        return
    if rang:
        _send("executions.tasks.drain_starts")


def _send(name: str, *args) -> None:
    from . import routing
    from .broker import task

    task(name).apply_async(args, queue=routing.STEPS)


def drain(
    run: Callable[[int], object],
    *,
    retry: tuple[type[BaseException], ...] = (),
    batch: int = BATCH,
    seconds: float = DRAIN_SECONDS,
) -> list[int]:
    """Answer the bell, then take runs off the list one at a time and run each (`run(execution_id)`), up to `batch`
    of them and none after `seconds`; their ids. While more wait, the bell is rung again, so another process takes
    them meanwhile and no run waits behind a slow one here.

    A run that raises one of `retry` (the database went away) goes back to the head of the list and the error
    propagates, for the task to try again; any other error is logged and the run left to the sweep, as a run's own
    failed message is, and the next run goes ahead."""
    redis = client()
    redis.delete(BELL_KEY)  # first: a start that lands after this rings again, so none is left waiting
    taken: list[int] = []
    take, until = redis.register_script(TAKE_ONE), time.monotonic() + seconds
    while len(taken) < batch and (not taken or time.monotonic() < until):
        value, rang = take(keys=[LIST_KEY, BELL_KEY], args=[BELL_SECONDS])
        if value is None:
            break
        taken.append(int(value))
        if rang:
            _send("executions.tasks.drain_starts")
        try:
            run(taken[-1])
        except retry:
            redis.lpush(LIST_KEY, taken[-1])
            raise
        except Exception:
            logger.exception("run %s failed to start here; the sweep tells it again", taken[-1])
    return taken


def waiting() -> int:
    """Runs waiting in the list; 0 when starts are not batched."""
    if not enabled():
        return 0
    return int(client().llen(LIST_KEY))


def purge() -> None:
    """Forget the runs waiting in the list (with `celery purge`: tests and benches that start from an empty broker)."""
    if _broker_is_redis():
        client().delete(LIST_KEY, BELL_KEY)
