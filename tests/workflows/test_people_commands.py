"""faos_user and faos_token: people, their groups and API tokens from the shell, asking authz when acting for one."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import EDITORS, VIEWERS, EditorFactory, UserFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_add_makes_a_staff_member_in_the_group_with_a_password_printed_once():
    out = run("faos_user", "add", "maria", "--email", "maria@example.com", "--group", EDITORS)
    maria = get_user_model().objects.get(username="maria")
    password = out.split("Change password): ")[1].strip()
    assert maria.is_staff and not maria.is_superuser and maria.email == "maria@example.com"
    assert [g.name for g in maria.groups.all()] == [EDITORS] and maria.check_password(password)
    assert "Added maria (Workflow editors)." in out


def test_add_without_login_has_no_password_and_an_unknown_group_is_refused_naming_the_known_ones():
    run("faos_user", "add", "crm-robot", "--no-login")
    assert not get_user_model().objects.get(username="crm-robot").has_usable_password()
    with pytest.raises(CommandError, match="no group named Admins \\(known: Approvers, Viewers, Workflow editors\\)"):
        run("faos_user", "add", "ola", "--group", "Admins")
    assert not get_user_model().objects.filter(username="ola").exists()  # nothing half-made
    with pytest.raises(CommandError, match="crm-robot exists already"):
        run("faos_user", "add", "crm-robot")


def test_acting_for_a_person_needs_their_rights():
    UserFactory(username="viewer", is_staff=True, roles=[VIEWERS])
    with pytest.raises(CommandError, match="permission error: viewer may not add"):
        run("faos_user", "add", "sam", "--as", "viewer")
    hr = UserFactory(username="hr", is_staff=True)
    hr.user_permissions.add(*Permission.objects.filter(codename__in=["add_user", "change_user"]))
    run("faos_user", "add", "sam", "--group", VIEWERS, "--as", "hr")
    with pytest.raises(CommandError, match="hr may not make a superuser"):
        run("faos_user", "add", "boss", "--superuser", "--as", "hr")
    assert get_user_model().objects.filter(username="sam").exists()


def test_change_moves_a_person_between_groups_and_deactivates_them():
    EditorFactory(username="lee")
    out = run("faos_user", "change", "lee", "--group", VIEWERS, "--remove-group", EDITORS, "--deactivate")
    lee = get_user_model().objects.get(username="lee")
    assert [g.name for g in lee.groups.all()] == [VIEWERS] and not lee.is_active
    assert out.strip() == "lee: Viewers, deactivated."
    assert "lee" in run("faos_user", "list") and "(deactivated)" in run("faos_user", "list")


def test_a_token_is_printed_once_works_and_is_only_replaced_on_purpose():
    EditorFactory(username="ci")
    key = run("faos_token", "ci").split("printed): ")[1].split()[0]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/workflows/").status_code == 200
    with pytest.raises(CommandError, match="ci has a token since .*--rotate replaces it"):
        run("faos_token", "ci")
    new_key = run("faos_token", "ci", "--rotate").split("printed): ")[1].split()[0]
    assert new_key != key and client.get("/api/workflows/").status_code == 401
    assert "Revoked ci's token." in run("faos_token", "ci", "--revoke") and not Token.objects.exists()


def test_a_token_for_someone_else_needs_the_token_right():
    EditorFactory(username="ci")
    EditorFactory(username="dev")
    with pytest.raises(CommandError, match="permission error: dev may not add authtoken.token"):
        run("faos_token", "ci", "--as", "dev")
    UserFactory(username="root", is_staff=True, is_superuser=True)
    assert "Authorization: Token " in run("faos_token", "ci", "--as", "root")


def test_change_links_a_slack_account_refuses_a_bad_id_and_unlinks_it():
    from integrations.models import SlackAccount

    maria = UserFactory(username="maria")
    run("faos_user", "change", "maria", "--slack", "U012AB3CD@T0FAOS")
    account = SlackAccount.objects.get(user=maria)
    assert (account.member_id, account.team_id) == ("U012AB3CD", "T0FAOS")
    with pytest.raises(CommandError, match="A Slack member ID looks like U012AB3CD."):
        run("faos_user", "change", "maria", "--slack", "maria", "--group", VIEWERS)
    assert SlackAccount.objects.get(user=maria).member_id == "U012AB3CD" and not maria.groups.exists()
    EditorFactory(username="ed")
    with pytest.raises(CommandError, match="ed may not change"):
        run("faos_user", "change", "maria", "--slack", "", "--as", "ed")
    run("faos_user", "change", "maria", "--slack", "")
    assert not SlackAccount.objects.exists()
