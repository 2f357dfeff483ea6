"""Groups every installation starts with: who edits workflows, who decides approvals, who only watches."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

def create_groups(apps, schema_editor):
    for config in apps.get_app_configs():
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = None
    from workflows.groups import ensure_default_groups

    ensure_default_groups(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0005_template_verbose_name"),
        ("executions", "0003_tasks_notifications"),
        ("integrations", "0002_knowledge_base"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
