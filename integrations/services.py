"""Connection services: look credentials up for a step, test a connection, rotate encryption keys."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from executions.engine.errors import StepError

from .models import Connection


def connection_find(*, service: str, name: str | None) -> Connection | None:
    """The connection a step names, or the service's first one when it names none."""
    connections = Connection.objects.filter(service=service)
    return connections.filter(name=name).first() if name else connections.order_by("name").first()


def connection_credentials(*, service: str, name: str | None, test_mode: bool, actor=None) -> dict:
    """Decrypted credentials for a step acting for `actor`, who must be allowed to use the connection.

    Test runs without a connection get named placeholders.
    """
    connection = connection_find(service=service, name=name)
    if connection is not None:
        from workflows import authz

        from .oauth import fresh_credentials

        if not authz.may(actor, "use", connection):
            raise StepError(f"permission error: {actor.get_username()} may not use the {connection} connection")
        return fresh_credentials(connection)
    if test_mode:
        from .connectors import get_service

        fields = get_service(service).credential_fields if get_service(service) else {}
        return {key: f"<{key}>" for key in fields} | {"base_url": ""}
    raise StepError(f"no {service} connection named '{name or 'default'}': add one under Integrations → Connections")


@transaction.atomic
def connection_rotate_keys() -> int:
    """Re-encrypt every stored secret with the newest key (after prepending one to FAOS_ENCRYPTION_KEYS)."""
    from workflows.models import Trigger

    count = 0
    for model, field in ((Connection, "credentials"), (Trigger, "secrets")):
        for row in model.objects.select_for_update().only("pk", field):
            # Saving the decrypted value encrypts it with the first (newest) key.
            model.objects.filter(pk=row.pk).update(**{field: getattr(row, field)})
            count += 1
    return count


def connection_record_test(*, connection: Connection, ok: bool, error: str = "") -> Connection:
    connection.status = Connection.Status.OK if ok else Connection.Status.FAILED
    connection.last_tested_at, connection.last_error = timezone.now(), error[:2000]
    connection.save(update_fields=["status", "last_tested_at", "last_error"])
    return connection


def connection_test(*, connection: Connection) -> tuple[bool, str]:
    """Call the service's cheap read-only action with this connection; record and return the outcome."""
    from . import connectors
    from .actions import ActionContext, run_action
    from .oauth import fresh_credentials

    service = connectors.get_service(connection.service)
    if service is None or not service.test_action:
        return False, "This service has no connection test."
    try:
        credentials = fresh_credentials(connection)  # an expired OAuth token is refreshed first
        ctx = ActionContext(
            idempotency_key=f"faos-test-{connection.pk}", timeout=15, credentials=lambda _service, _name: credentials
        )
        run_action(service.test_action, {"connection": connection.name}, ctx)
    except StepError as exc:
        connection_record_test(connection=connection, ok=False, error=str(exc))
        return False, str(exc)
    connection_record_test(connection=connection, ok=True)
    return True, ""


def connection_credential_problems(*, service, stored: dict, typed: dict) -> tuple[str | None, str | None]:
    """(fields the service does not know, what is still missing once typed is merged into stored), in words."""
    unknown = sorted(set(typed) - set(service.credential_fields))
    missing = service.missing_credentials(stored | typed)
    return (
        f"unknown field(s) for {service.label}: {', '.join(unknown)}" if unknown else None,
        f"{service.label} needs: {missing}" if missing else None,
    )


def connection_set_credentials(*, connection: Connection, typed: dict, same_service: bool) -> None:
    """Merge newly typed credentials into the stored ones (a new service starts clean); it must be tested again."""
    if typed:
        connection.credentials = ((connection.credentials or {}) if same_service else {}) | typed
        connection.status = Connection.Status.UNTESTED


@transaction.atomic
def slack_account_set(*, user, member_id: str, team_id: str = "", actor=None):
    """Link a person to their Slack member ID (whose button presses decide as them); an empty ID unlinks them."""
    from workflows import authz

    from .models import SlackAccount

    authz.require(actor, "change", user)  # as editing the person
    if not member_id:
        SlackAccount.objects.filter(user=user).delete()
        return None
    account = SlackAccount.objects.filter(user=user).first() or SlackAccount(user=user)
    account.member_id, account.team_id = member_id.strip(), team_id.strip()
    account.full_clean()  # the format, and one FAOS user per member and workspace
    account.save()
    return account
