"""The broker seen from the services: send a registered task by name, so services never import the task modules
(which import the runtime, which imports the services)."""

from __future__ import annotations


def task(name: str):
    """A registered Celery task by name (the app finds its tasks when first asked)."""
    from faos.celery import app

    return app.tasks[name]
