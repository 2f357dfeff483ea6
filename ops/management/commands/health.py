"""`manage.py health`: the /health/ checks from cron or systemd; exit 0 when all pass, 1 otherwise."""

import json

from django.core.management.base import BaseCommand, CommandError

from ops.health import CHECKS, run_checks


class Command(BaseCommand):
    help = "Run the health checks (database, broker, beat, workers, migrations); exit 1 if any fails."

    def add_arguments(self, parser):
        parser.add_argument("checks", nargs="*", help=f"Only these checks (default: all): {', '.join(CHECKS)}.")
        parser.add_argument("--json", dest="as_json", action="store_true", help="Print the same JSON as /health/.")

    def handle(self, *args, checks, as_json=False, **options):
        unknown = sorted(set(checks) - set(CHECKS))
        if unknown:
            raise CommandError(f"Unknown check(s): {', '.join(unknown)}; choose from {', '.join(CHECKS)}.")
        report = run_checks(checks or None)
        if as_json:
            self.stdout.write(json.dumps(report))
        else:
            for name, result in report["checks"].items():
                mark = "ok  " if result["ok"] else "FAIL"
                self.stdout.write(f"{mark} {name:<11} {result['ms']:>7.1f} ms  {result.get('detail', '')}".rstrip())
        if report["status"] != "ok":
            raise SystemExit(1)
