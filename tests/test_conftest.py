"""The suite's own machinery (tests/conftest.py): what a transactional test's flush keeps, empties and puts back."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection

from tests.factories import WorkflowFactory
from workflows.groups import GROUPS
from workflows.models import Workflow

pytestmark = pytest.mark.django_db(transaction=True)


def granted() -> set[tuple[str, str, str]]:
    rows = Group.permissions.through.objects.values_list(
        "group__name", "permission__content_type__app_label", "permission__codename"
    )
    return set(rows)


def test_a_transactional_tests_flush_empties_the_tables_keeps_content_types_and_puts_the_default_groups_back():
    WorkflowFactory()
    Group.objects.create(name="A test's own group")
    Group.objects.get(name="Viewers").permissions.clear()
    content_types = dict(ContentType.objects.values_list("model", "id"))

    call_command("flush", interactive=False, verbosity=0, reset_sequences=False)  # as a transactional test's

    assert not Workflow.objects.exists()
    assert sorted(Group.objects.values_list("name", flat=True)) == sorted(GROUPS)
    expected = {(name, app, code) for name, by_app in GROUPS.items() for app, codes in by_app.items() for code in codes}
    assert granted() == expected
    if connection.vendor == "postgresql":  # kept, not deleted and made again (SQLite's flush is Django's own)
        assert dict(ContentType.objects.values_list("model", "id")) == content_types


def test_manage_py_flush_still_makes_the_content_types_and_permissions_again():
    call_command("flush", interactive=False, verbosity=0)  # resets sequences: Django's own TRUNCATE

    assert ContentType.objects.filter(app_label="workflows", model="workflow").exists()
    assert Permission.objects.filter(codename="run_workflow").exists()
