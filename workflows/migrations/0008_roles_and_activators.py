"""The new rights reach the default groups; active workflows act for their owner until activated again."""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.models import F


def forwards(apps, schema_editor):
    for config in apps.get_app_configs():
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = None
    from workflows.groups import ensure_default_groups

    ensure_default_groups(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))
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
