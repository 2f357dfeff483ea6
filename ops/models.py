"""Rows every process can write and the web process can read: heartbeats and cumulative counters."""

from django.db import connection, models
from django.utils import timezone

from faos.db import QUICK_COMMIT_CTE, prepared_cursor

WEBHOOK_DELIVERIES = "webhook_deliveries"  # a Counter name, labelled by the answer code


class Heartbeat(models.Model):
    """When a periodic job last ran (the Beat-driven sweep): one row per job, overwritten each time."""

    name = models.CharField(max_length=50, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"


class Counter(models.Model):
    """A cumulative count shared by every process and machine, e.g. webhook deliveries by answer code."""

    name = models.CharField(max_length=50)
    label = models.CharField(max_length=50, blank=True)
    value = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "label"], name="ops_counter_name_label")]

    def __str__(self) -> str:
        return f"{self.name}{{{self.label}}} = {self.value}"


def heartbeat(name: str, at=None) -> None:
    """Record that `name` ran now: one upsert."""
    Heartbeat.objects.bulk_create(
        [Heartbeat(name=name, at=at or timezone.now())],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["at"],
    )


def counter_add(name: str, label: str = "", amount: int = 1) -> None:
    """Add to a counter in one statement (an upsert both PostgreSQL and SQLite run), outside any lock we hold.

    Its commit does not wait for the disk: every webhook adds to the same row, so a commit that waited would hold
    the next delivery behind each fsync; a count lost in a database crash is a count, not a run. On PostgreSQL the
    setting rides in the statement (faos.db.QUICK_COMMIT_CTE): one round trip, not BEGIN, SET, upsert, COMMIT."""
    table = connection.ops.quote_name(Counter._meta.db_table)
    insert = f"INSERT INTO {table} (name, label, value)"
    add = f"ON CONFLICT (name, label) DO UPDATE SET value = {table}.value + EXCLUDED.value"
    if connection.vendor == "postgresql":
        sql = f"WITH quick AS ({QUICK_COMMIT_CTE}) {insert} SELECT %s, %s, %s FROM quick {add}"
    else:
        sql = f"{insert} VALUES (%s, %s, %s) {add}"
    with prepared_cursor() as cursor:
        cursor.execute(sql, [name, label, amount])
