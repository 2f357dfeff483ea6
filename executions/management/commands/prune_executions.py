"""Delete finished runs older than a given age, with their step runs, approvals and closed tasks, in batches.

An operator tool, authorization-neutral like executions_prune: it acts for no user.
"""

import argparse
import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from executions.models import Execution
from executions.retention import DEFAULT_BATCH_SIZE, RetentionError, executions_prune, prune_statuses

AGE = re.compile(r"(\d+)\s*([dh])")
UNITS = {"d": "days", "h": "hours"}
MOST = {"d": 36_500, "h": 36_500 * 24}  # past that the cutoff would fall before year 1


def parse_age(value: str) -> timedelta:
    """`90d` or `12h` (a whole number of days or hours, more than zero)."""
    match = AGE.fullmatch(value.strip().lower())
    if not match or not 0 < int(match[1]) <= MOST[match[2]]:
        raise argparse.ArgumentTypeError(
            f"expected a number of days or hours above zero (at most 100 years) like 90d or 12h, got {value!r}"
        )
    return timedelta(**{UNITS[match[2]]: int(match[1])})


def parse_statuses(value: str) -> tuple[str, ...]:
    try:
        return prune_statuses(value)
    except RetentionError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of runs above zero, got {value!r}")
    return int(value)


class Command(BaseCommand):
    help = (
        "Delete finished runs (and their step runs, approvals and closed tasks) older than --older-than, in short "
        "batches; unfinished runs are never touched. Open tasks and events are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, type=parse_age, help="age of the runs to delete: 90d, 12h")
        parser.add_argument(
            "--status",
            type=parse_statuses,
            default=None,
            help=f"comma-separated finished statuses to delete (default: all of {', '.join(Execution.FINISHED)})",
        )
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
        parser.add_argument(
            "--batch-size", type=positive, default=DEFAULT_BATCH_SIZE, help="runs deleted per transaction"
        )

    def handle(self, *args, older_than, status, dry_run, batch_size, **options):
        try:
            report = executions_prune(older_than=older_than, statuses=status, batch_size=batch_size, dry_run=dry_run)
        except RetentionError as error:
            raise CommandError(str(error)) from None
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {report['executions']} run(s) finished before {report['cutoff']}: {report['step_runs']} step "
            f"run(s), {report['approvals']} approval(s), {report['tasks_deleted']} closed task(s); "
            f"{report['tasks_unlinked']} open task(s) kept, unlinked"
            + ("." if dry_run else f"; {report['batches']} batch(es) in {report['seconds']} s.")
        )
