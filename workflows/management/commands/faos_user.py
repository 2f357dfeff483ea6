"""Add people, put them in groups (roles), list them: what the admin's Users page does, from the shell."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from integrations.services import slack_account_set
from workflows.people import person_add, person_change


def actor(username):
    """The person the command acts for (--as), or None: the operator at the shell."""
    if not username:
        return None
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"--as: no active user named {username}")
    return user


class Command(BaseCommand):
    help = (
        'faos_user add NAME --email E --group "Workflow editors" | change NAME --group G --remove-group G '
        "--slack U012AB3CD | list"
    )

    def add_arguments(self, parser):
        parser.add_argument("verb", choices=["add", "change", "list"])
        parser.add_argument("name", nargs="?", help="The user name (add, change).")
        parser.add_argument("--email", help="Their e-mail (approvals and tasks are mailed there).")
        parser.add_argument("--group", action="append", default=[], help="Add to this group (repeatable).")
        parser.add_argument("--remove-group", action="append", default=[], help="change: take out of this group.")
        parser.add_argument("--superuser", action="store_true", help="add: may do everything.")
        parser.add_argument("--no-login", action="store_true", help="add: no password (API token only).")
        parser.add_argument("--deactivate", action="store_true", help="change: may no longer sign in or use tokens.")
        parser.add_argument("--activate", action="store_true", help="change: undo --deactivate.")
        parser.add_argument(
            "--slack", metavar="MEMBER_ID[@TEAM_ID]", help='change: their Slack member ID (U…; "" unlinks them).'
        )
        parser.add_argument("--as", dest="as_user", help="Act for this person, who needs the right to do it.")

    def handle(self, verb, name=None, **options):
        if verb == "list":
            return self._list()
        if not name:
            raise CommandError(f"{verb}: give the user name, e.g. faos_user {verb} maria")
        try:
            self._add(name, options) if verb == "add" else self._change(name, options)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from exc

    def _add(self, name, options):
        user, password = person_add(
            username=name,
            email=options["email"] or "",
            groups=options["group"],
            superuser=options["superuser"],
            login=not options["no_login"],
            actor=actor(options["as_user"]),
        )
        self.stdout.write(f"Added {user} ({self._roles(user)}).")
        if password:
            self.stdout.write(f"Password (shown once; they change it under Change password): {password}")

    def _change(self, name, options):
        user = get_user_model().objects.filter(username=name).first()
        if user is None:
            raise CommandError(f"no user named {name}: `faos_user add {name}` adds them")
        active = False if options["deactivate"] else True if options["activate"] else None
        with transaction.atomic():  # all of it or nothing (a bad Slack ID leaves the groups as they were)
            person_change(
                user=user,
                add_groups=options["group"],
                remove_groups=options["remove_group"],
                email=options["email"],
                active=active,
                actor=actor(options["as_user"]),
            )
            if options["slack"] is not None:
                member, _, team = options["slack"].partition("@")
                slack_account_set(user=user, member_id=member, team_id=team, actor=actor(options["as_user"]))
        self.stdout.write(f"{user}: {self._roles(user)}{'' if user.is_active else ', deactivated'}.")

    def _list(self):
        for user in get_user_model().objects.order_by("username").prefetch_related("groups"):
            state = "" if user.is_active else "  (deactivated)"
            self.stdout.write(f"{user.username:<20} {user.email:<30} {self._roles(user)}{state}")

    @staticmethod
    def _roles(user) -> str:
        groups = ", ".join(sorted(g.name for g in user.groups.all())) or "no group"
        return f"superuser, {groups}" if user.is_superuser else groups
