"""Load or update the template library (idempotent; workflows made from templates are left alone)."""

from django.core.management.base import BaseCommand

from workflows.library import templates_load


class Command(BaseCommand):
    help = "Create or update the workflow templates from workflows/library/."

    def handle(self, *args, **options):
        counts = templates_load()
        self.stdout.write(", ".join(f"{n} {k}" for k, n in counts.items()) + " template(s).")
