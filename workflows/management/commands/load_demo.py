"""Load the demo workflows (once) and activate them, and a few help-centre articles, so `make run` has something
to run and the support templates something to find."""

from pathlib import Path

from django.core.management.base import BaseCommand

from integrations.models import KnowledgeArticle
from workflows.activation import activation_start
from workflows.models import Workflow, WorkflowVersion
from workflows.safe_yaml import shipped_yaml
from workflows.services import workflow_import

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"


class Command(BaseCommand):
    help = "Create and activate the demo workflows if they do not exist yet."

    def handle(self, *args, **options):
        for path in sorted(DEMO_DIR.glob("*.yaml")):
            definition = shipped_yaml(path.read_text())
            if Workflow.objects.filter(name=definition["name"]).exists():
                continue
            workflow = workflow_import(definition=definition)
            outcome = activation_start(workflow=workflow)  # a reviewed one waits in the inbox for an editor
            live = isinstance(outcome, WorkflowVersion)
            state = f"v{outcome.number}, active" if live else f"v{outcome.version.number} awaits approval"
            self.stdout.write(f"Loaded demo workflow '{workflow.name}' ({state}).")
        self._articles()

    def _articles(self):
        """Add the demo articles that are missing (by title); articles you edited are left alone."""
        added = 0
        for article in shipped_yaml((DEMO_DIR / "knowledge" / "articles.yaml").read_text()):
            _, created = KnowledgeArticle.objects.get_or_create(title=article["title"], defaults=article)
            added += created
        if added:
            self.stdout.write(f"Added {added} demo knowledge-base article(s).")
