from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: health checks, Prometheus metrics and the shared counters and heartbeats behind them."""

    name = "ops"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"
