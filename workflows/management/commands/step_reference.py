"""Write docs/steps.md, the step reference, from the step kinds' and actions' schemas (or check it is current)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workflows.step_reference import reference_markdown


class Command(BaseCommand):
    help = "Generate docs/steps.md (every step kind and action, its settings and an example); --check compares."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Fail if the file differs from the code; write nothing."
        )
        parser.add_argument("--output", default=str(Path(settings.BASE_DIR) / "docs" / "steps.md"))

    def handle(self, *args, check=False, output="", **options):
        path, text = Path(output), reference_markdown()
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if check:
            if current != text:
                raise CommandError(f"{path} is out of date: run `python manage.py step_reference` and commit it.")
            self.stdout.write(f"{path} is up to date.")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.stdout.write(f"Wrote {path} ({len(text.splitlines())} lines).")
