"""Give a person an API token (printed once), replace it, or revoke it: the admin's Auth Token page, from the shell."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from workflows.people import token_issue, token_revoke

from .faos_user import actor


class Command(BaseCommand):
    help = "Print a new API token for NAME (once); --rotate replaces an existing one, --revoke deletes it."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The user the token acts for.")
        parser.add_argument("--rotate", action="store_true", help="Replace the existing token (the old one stops).")
        parser.add_argument("--revoke", action="store_true", help="Delete the token: requests with it get 401.")
        parser.add_argument("--as", dest="as_user", help="Act for this person, who needs the right to do it.")

    def handle(self, name, rotate=False, revoke=False, as_user=None, **options):
        user = get_user_model().objects.filter(username=name).first()
        if user is None:
            raise CommandError(f"no user named {name}: `faos_user add {name} --no-login` adds one for the API")
        try:
            if revoke:
                done = token_revoke(user=user, actor=actor(as_user))
                self.stdout.write(f"Revoked {name}'s token." if done else f"{name} has no token.")
                return
            key = token_issue(user=user, rotate=rotate, actor=actor(as_user))
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from exc
        if not user.is_active:
            self.stderr.write(f"{name} is deactivated: the token works once they are activated again.")
        self.stdout.write(f"API token for {name} (keep it secret; this is the only time it is printed): {key}")
        self.stdout.write(f"Use it as the header  Authorization: Token {key}")
