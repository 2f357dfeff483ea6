"""A run's step runs by (execution, id): a page of them (the API's /steps/, the run page's windows) reads only that
run's rows; ordered by id with a LIMIT, PostgreSQL otherwise walked the primary key across every run's step runs."""

from django.db import migrations, models

INDEX = "steprun_execution_order"


def create_index(apps, schema_editor):
    # CONCURRENTLY on PostgreSQL: building it on a big step-run table never blocks running workflows.
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f"CREATE INDEX {concurrently}IF NOT EXISTS {INDEX} ON executions_steprun (execution_id, id)")


def drop_index(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("executions", "0011_used_decision_key"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(create_index, drop_index, elidable=False)],
            state_operations=[
                migrations.AddIndex(
                    model_name="steprun",
                    index=models.Index(fields=["execution", "id"], name=INDEX),
                ),
            ],
        ),
    ]
