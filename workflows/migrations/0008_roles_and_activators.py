"""The new rights reach the default groups; active workflows act for their owner until activated again."""

from importlib import import_module

from django.db import migrations
from django.db.models import F

# The same step as when the groups were made: create the new permissions, then give them to the groups.
create_groups = import_module("workflows.migrations.0006_default_groups").create_groups


def forwards(apps, schema_editor):
    create_groups(apps, schema_editor)
    Workflow = apps.get_model("workflows", "Workflow")
    active = Workflow.objects.filter(activated_by__isnull=True, status="active").exclude(owner=None)
    active.update(activated_by_id=F("owner_id"))


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0007_run_activate_rights"),
        ("integrations", "0003_connection_allowed_groups"),
        ("executions", "0005_step_run_requests"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
