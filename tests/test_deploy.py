"""The systemd units in deploy/: they run what Procfile.prod runs, and the web outweighs the workers for the CPU."""

import configparser
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = ("web", "worker", "beat")


def unit(process: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read(ROOT / "deploy" / f"faos-{process}.service")
    return parser["Service"]


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile.prod").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


@pytest.mark.parametrize("process", PROCESSES)
def test_each_unit_starts_the_command_of_its_procfile_line(process):
    command = procfile()[process].replace("${WORKER_CONCURRENCY:-2}", "${WORKER_CONCURRENCY}")
    assert unit(process)["ExecStart"] == "/srv/faos/" + command


def test_the_web_unit_gets_three_times_a_workers_cpu_share():
    """Sharing a machine, the web answers webhooks first; accepted runs wait in the queue (README: Scaling workers)."""
    web, worker = (int(unit(process)["CPUWeight"]) for process in ("web", "worker"))
    assert web == 3 * worker
    assert re.search(r"CPUWeight=300", (ROOT / "README.md").read_text())
