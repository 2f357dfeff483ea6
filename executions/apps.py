"""App config for the runtime: executions and their step runs."""

from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    name = "executions"
    verbose_name = "Executions"

    def ready(self):
        from django.conf import settings

        from . import approvals, events, notifications, slack_api  # noqa: F401 - each registers its outbox sender
        from .engine import limits

        limits.configure(  # the engine's budgets, overridable at the edge (none of these is required)
            rendered=getattr(settings, "FAOS_MAX_RENDERED_CHARS", None),
            seconds=getattr(settings, "FAOS_RENDER_SECONDS", None),
            output=getattr(settings, "FAOS_MAX_STEP_OUTPUT_CHARS", None),
        )
