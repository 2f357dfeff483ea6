"""One structured line per run and step transition: JSON with LOG_FORMAT=json, key=value text otherwise."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from executions.services import execution_start
from faos.log_format import JsonFormatter, KeyValueFormatter
from tests.factories import active_workflow, log_step
from tests.fakes import FakeServer

pytestmark = pytest.mark.django_db(transaction=True)  # eager tasks run on commit
ROOT = Path(__file__).resolve().parents[2]


def transitions(caplog) -> list[dict]:
    """The faos.runs records as the JSON formatter writes them."""
    return [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "faos.runs"]


def test_transitions_log_one_json_line_each_with_ids_and_duration(caplog):
    caplog.set_level(logging.INFO, logger="faos.runs")
    workflow = active_workflow([log_step("greet"), log_step("bye")], name="Greeter")
    execution = execution_start(workflow=workflow, input={})
    lines = transitions(caplog)
    events = [(line["event"], line.get("step"), line.get("inline")) for line in lines]
    assert events == [
        ("run.started", None, None),
        ("step.claimed", "greet", None),
        ("step.finished", "greet", None),
        ("step.finished", "bye", True),  # a pure step runs inline right after the one before: it is never claimed
        ("run.finished", None, None),
    ]
    for line in lines:
        assert line["execution_id"] == execution.pk and line["workflow_id"] == workflow.pk
        assert line["workflow"] == "Greeter" and line["level"] == "INFO" and line["logger"] == "faos.runs"
    finished = [line for line in lines if line["event"] == "step.finished"]
    assert all(line["attempt"] == 1 and line["kind"] == "action" and line["duration_ms"] >= 0 for line in finished)
    assert lines[-1]["status"] == "succeeded" and lines[-1]["duration_ms"] >= 0


def test_a_failing_step_logs_failed_then_retrying_with_the_next_attempt(caplog, settings):
    caplog.set_level(logging.INFO, logger="faos.runs")
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    server = FakeServer()
    server.route("GET", "/flaky", status=503, body={"error": "down"})
    call = {
        "key": "call",
        "name": "Call",
        "retry_max_attempts": 2,
        "retry_initial_delay": 0,
        "retry_jitter": False,
        "config": {"action": "http_request", "inputs": {"method": "GET", "url": f"{server.url}/flaky"}},
    }
    try:
        execution_start(workflow=active_workflow([call]), input={})
    finally:
        server.close()
    events = [(line["event"], line.get("attempt")) for line in transitions(caplog)]
    assert events == [
        ("run.started", None),
        ("step.claimed", 1),
        ("step.failed", 1),
        ("step.retrying", 2),
        ("step.claimed", 2),
        ("step.failed", 2),
        ("run.finished", None),
    ]
    assert transitions(caplog)[-1]["status"] == "failed" and transitions(caplog)[-1]["error_step"] == "call"


def test_text_lines_carry_the_same_fields_as_key_value_pairs():
    record = logging.makeLogRecord(
        {"name": "faos.runs", "levelname": "INFO", "msg": "step %s", "args": ("finished",), "step": "send mail"}
    )
    record.execution_id, record.request = 7, object()  # an object on the record is never printed
    line = KeyValueFormatter().format(record)
    assert line.endswith('INFO faos.runs step finished step="send mail" execution_id=7')


def test_log_format_json_makes_every_process_write_json_lines():
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('faos.runs').info('run %s', 'started', extra={'execution_id': 3})"
    )
    env = {**os.environ, "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "faos.settings"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    line = json.loads(done.stderr.strip().splitlines()[-1])
    assert line["message"] == "run started" and line["execution_id"] == 3 and line["logger"] == "faos.runs"
