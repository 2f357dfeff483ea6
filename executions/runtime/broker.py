"""The broker seen from the services: send a registered task by name, so services never import the task modules
(which import the runtime, which imports the services)."""

from __future__ import annotations

import importlib


def task(name: str):
    """A registered Celery task by name; its module is imported the first time (a web process may not have yet)."""
    from faos.celery import app

    if name not in app.tasks:
        importlib.import_module(name.rsplit(".", 1)[0])
    return app.tasks[name]
