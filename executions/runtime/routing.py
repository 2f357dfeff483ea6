"""Which Celery queue a "look at execution N" message goes to, and which steps a worker may claim.

Steps that call a model (agent steps, and actions marked `calls_model`) go to the `agents` queue, everything
else to `steps`, so model calls can get their own machines. A worker consuming both (the default) runs every
step as before; a worker consuming one of them claims only its own kind and hands the run over to the other
queue when the next runnable step is not its kind. The database stays the truth: a message on the wrong queue
only costs a hand-over, and the sweep re-sends anything lost.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import DatabaseError
from django.utils import timezone

from ..engine.definition import Definition, StepDef
from ..models import Execution, StepRun

logger = logging.getLogger(__name__)

STEPS, AGENTS, SWEEP = "steps", "agents", "sweep"
BROKER_EPOCH_KEY = "faos:broker-epoch"  # in the broker's own Redis database, beside the queues
MODEL_KINDS = frozenset({"agent"})


def model_actions() -> frozenset[str]:
    """Names of the registered actions that call a model."""
    from integrations.actions import all_actions

    return frozenset(action.name for action in all_actions() if getattr(action, "calls_model", False))


def calls_model(step: StepDef, actions: frozenset[str] | None = None) -> bool:
    if step.kind in MODEL_KINDS:
        return True
    actions = model_actions() if actions is None else actions
    return step.kind == "action" and step.config.get("action") in actions


def step_queue(step: StepDef) -> str:
    """The queue of the worker that should run this step."""
    return AGENTS if calls_model(step) else STEPS


def model_steps(definition: Definition) -> frozenset[str]:
    """Keys of the definition's steps that run on the agents queue."""
    actions = model_actions()
    return frozenset(step.key for step in definition.steps if calls_model(step, actions))


def execution_queue(execution_id: int, *, countdown: float | None = None) -> str:
    """The queue for a message about this run: that of its first step runnable when the message arrives."""
    due = timezone.now() + timedelta(seconds=(countdown or 0) + 1)  # a countdown message is for a step due then
    rows = StepRun.objects.filter(execution_id=execution_id).runnable(due).order_by("id")
    row = rows.values_list("step_kind", "step_key").first()
    if row is None:
        return STEPS  # nothing to run (yet): whoever gets it finds nothing, or hands it over
    kind, key = row
    if kind in MODEL_KINDS:
        return AGENTS
    actions = model_actions()
    if kind != "action" or not actions:  # no action calls a model: no need to read the definition
        return STEPS
    raw = Execution.objects.filter(pk=execution_id).values_list("version__definition", flat=True).first()
    step = next((s for s in Definition.from_dict(raw or {}).steps if s.key == key), None)
    return AGENTS if step is not None and calls_model(step, actions) else STEPS


def worker_lane(queues=None) -> str | None:
    """STEPS or AGENTS when this worker consumes only one of them; None when it runs every step."""
    if queues is None:
        from faos.celery import app

        queues = app.amqp.queues.consume_from  # the worker's -Q selection (all queues without -Q)
    names = set(queues)
    if STEPS in names and AGENTS not in names:
        return STEPS
    if AGENTS in names and STEPS not in names:
        return AGENTS
    return None


def claimable(runnable, definition: Definition, lane: str | None):
    """Narrow a queryset of runnable step runs to those a worker on `lane` may claim."""
    if lane == AGENTS:
        return runnable.filter(step_key__in=model_steps(definition))
    if lane == STEPS:
        return runnable.exclude(step_key__in=model_steps(definition))
    return runnable


def queue_depth(*names: str) -> int | None:
    """Messages waiting in these queues (not those a worker already holds); None when the broker cannot tell."""
    from kombu.exceptions import ChannelError, OperationalError

    from faos.celery import app

    total = 0
    for name in names:
        try:
            with app.connection_for_write() as conn:  # its own channel: a failed passive declare closes it (AMQP)
                total += conn.default_channel.queue_declare(queue=name, passive=True).message_count
        except ChannelError:  # never declared, or (Redis) empty: nothing waits there
            continue
        except (OperationalError, OSError, NotImplementedError, AttributeError):
            logger.warning("could not read the depth of queue %s", name, exc_info=True)
            return None
    return total


def broker_lost_messages() -> bool:
    """Whether the broker lost its queued messages since the last sweep asked.

    A Redis broker that restarted without persistence, was flushed or failed over to an empty replica no longer
    holds the key this sets beside its queues, nor any message: the sweep then tells every runnable step again at
    once, instead of after the stale times that keep a backlog at one message a run. The database remembers that
    the key was set (a heartbeat row), so the first sweep ever (or on a new broker for a new database) is not taken
    for a loss. Only one of several sweeps sees the key missing. RabbitMQ and the filesystem keep their queues.
    """
    from kombu.exceptions import OperationalError

    from faos.celery import app

    try:
        with app.connection_for_write() as conn:
            if conn.transport.driver_type != "redis":
                return False
            client = conn.default_channel.client
            if not client.set(BROKER_EPOCH_KEY, timezone.now().isoformat(), nx=True):
                return False
            try:
                return _remember_broker_epoch()
            except DatabaseError:  # both restarted (a reboot): unset the key so that the next sweep asks again
                client.delete(BROKER_EPOCH_KEY)
                raise
    except (OperationalError, OSError):
        logger.warning("could not check whether the broker kept its messages", exc_info=True)
        return False


def _remember_broker_epoch() -> bool:
    """Record that the broker's key was set; whether it had been set before (so the broker has lost it since)."""
    from ops.models import Heartbeat, heartbeat

    lost = Heartbeat.objects.filter(name=BROKER_EPOCH_KEY).exists()
    heartbeat(BROKER_EPOCH_KEY)
    if lost:
        logger.warning("the broker lost its queues (a restart, a flush or a failover): runnable steps are told again")
    return lost
