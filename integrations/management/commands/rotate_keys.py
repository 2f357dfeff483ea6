"""Re-encrypt stored credentials and webhook secrets with the newest FAOS_ENCRYPTION_KEYS key."""

from django.conf import settings
from django.core.management.base import BaseCommand

from integrations import crypto
from integrations.services import connection_rotate_keys


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first key of FAOS_ENCRYPTION_KEYS."

    def add_arguments(self, parser):
        parser.add_argument(
            "--from-legacy-key",
            action="store_true",
            help="Upgrade step: also open secrets written by older versions with the key they derived from "
            "SECRET_KEY (this SECRET_KEY, SECRET_KEY_FALLBACKS and the old public development key).",
        )

    def handle(self, *args, from_legacy_key=False, **options):
        if from_legacy_key:
            crypto.allow_legacy_decryption(
                [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS, crypto.LEGACY_DEFAULT_SECRET_KEY]
            )
        self.stdout.write(f"Re-encrypted {connection_rotate_keys()} row(s).")
