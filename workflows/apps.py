"""App config for workflow definitions."""

from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Workflows"

    def ready(self):
        from . import signals  # noqa: F401
