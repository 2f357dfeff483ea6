"""Heartbeats and counters; and the index on step runs' finished_at that /metrics' recent-steps query uses."""

from django.db import migrations, models

INDEX = "ops_steprun_finished_at"


def create_index(apps, schema_editor):
    # CONCURRENTLY on PostgreSQL: building it on a big step-run table never blocks running workflows.
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f"CREATE INDEX {concurrently}IF NOT EXISTS {INDEX} ON executions_steprun (finished_at)")


def drop_index(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction
    initial = True

    dependencies = [("executions", "0006_event_sender_about")]

    operations = [
        migrations.CreateModel(
            name="Heartbeat",
            fields=[
                ("name", models.CharField(max_length=50, primary_key=True, serialize=False)),
                ("at", models.DateTimeField()),
            ],
        ),
        migrations.CreateModel(
            name="Counter",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=50)),
                ("label", models.CharField(blank=True, max_length=50)),
                ("value", models.PositiveBigIntegerField(default=0)),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("name", "label"), name="ops_counter_name_label")],
            },
        ),
        # Not in StepRun's Meta: executions' migrations are being numbered by other changes right now, and
        # the index only serves this app. Django's model state does not know it, so nothing will drop it.
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
