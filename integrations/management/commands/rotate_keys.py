"""Re-encrypt stored credentials and webhook secrets with the newest FAOS_ENCRYPTION_KEYS key."""

from django.core.management.base import BaseCommand

from integrations.services import connection_rotate_keys


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first key of FAOS_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        self.stdout.write(f"Re-encrypted {connection_rotate_keys()} row(s).")
