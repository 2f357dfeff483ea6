"""The short chaos run (bench/chaos.py --short): 20 runs while three workers in a row are SIGKILLed mid-step."""

import pytest

from bench.chaos import VENDOR_STEPS, chaos_phase

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_three_workers_killed_mid_step_lose_no_run_double_no_step_and_repeat_each_call_with_its_key(
    start_worker, fake_server, tmp_path
):
    fake_server.httpd.handle_error = lambda *_: None  # a worker killed mid-call leaves a broken pipe
    for step in VENDOR_STEPS:
        fake_server.route("POST", f"/{step}", body={"ok": step}, delay=0.5)
    mail_dir = tmp_path / "mail"

    failures, report = chaos_phase(
        lambda: start_worker(name="chaos", EMAIL_URL=f"filemail:///{mail_dir}"),
        fake_server,
        mail_dir,
        runs=20,
        work=(2.0, 4.0),
        lease=1.0,  # the start_worker fixture's FAOS_LEASE_GRACE_SECONDS
        kills=3,
    )

    assert failures == [], report
    assert report["kills"] == 3
    assert report["steps in flight at a kill"] >= 3, report  # each kill interrupted a step
    assert report["killed steps never claimed again"] == 0, report
    taken_again = report["steps in flight at a kill"] - report["killed steps ended by their dying commit"]
    assert report["re-claims (a killed step taken again)"] >= taken_again, report
