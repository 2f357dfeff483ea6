"""App config for replays: a draft run against past runs' inputs, with a side-by-side report."""

from django.apps import AppConfig


class ReplaysConfig(AppConfig):
    name = "replays"
    verbose_name = "Replays"

    def ready(self):
        from . import services  # noqa: F401 - registers the outbox senders that start replays and collect runs
