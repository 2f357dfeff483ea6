"""The permission matrix: every URL of the admin and the API (from the URL conf) × every role × its verbs.

A URL without a rule here fails `test_every_url_has_a_rule`, so a new endpoint cannot ship unreviewed.
The same matrix is the README's Security table. Each request runs in a savepoint that is rolled back,
so one role's DELETE never hides the object from the next.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from executions.models import Approval, Execution, Notification, StepRun, Task
from integrations.models import Connection, KnowledgeArticle
from replays.models import Replay
from tests.factories import APPROVERS, EDITORS, VIEWERS, UserFactory, role_groups
from workflows.activation import activation_start
from workflows.models import Agent, Trigger, Workflow, WorkflowTemplate
from workflows.services import workflow_activate

pytestmark = pytest.mark.django_db

ROLES = ("anon", "nobody", "viewer", "approver", "editor", "superuser")
ALL = frozenset(ROLES)
STAFF = ALL - {"anon"}
VIEW = frozenset({"viewer", "approver", "editor", "superuser"})  # the view right on workflows and runs
EDIT = frozenset({"editor", "superuser"})  # change, run, activate; connections
SUPER = frozenset({"superuser"})
NONE = frozenset()
TEMPLATES = frozenset({"viewer", "editor", "superuser"})  # the gallery
ELIGIBLE = frozenset({"approver", "superuser"})  # the approval's group (Approvers) and decide-any
ASSIGNED = frozenset({"approver", "superuser"})  # the task is for the Approvers group
OWN = frozenset({"editor"})  # a notification is its recipient's alone

# (view, add, change, delete) per admin model: the generic changelist/add/change/delete/history pages.
ADMIN_MODELS = {
    "workflows_workflow": (VIEW, EDIT, EDIT, EDIT),
    "workflows_workflowversion": (VIEW, NONE, NONE, NONE),
    "workflows_activationrequest": (VIEW, NONE, NONE, NONE),  # decided through its own view, below
    "workflows_trigger": (VIEW, EDIT, EDIT, EDIT),
    "workflows_workflowtemplate": (TEMPLATES, NONE, NONE, NONE),
    "workflows_agent": (EDIT, EDIT, EDIT, SUPER),
    "executions_execution": (VIEW, NONE, NONE, SUPER),
    "executions_approval": (ELIGIBLE, NONE, NONE, NONE),
    "executions_task": (ASSIGNED, NONE, NONE, SUPER),
    "executions_notification": (OWN, NONE, NONE, OWN),
    "integrations_connection": (EDIT, EDIT, EDIT, SUPER),
    "integrations_knowledgearticle": (EDIT, SUPER, SUPER, SUPER),
    **{
        f"{app}_{model}": (SUPER, SUPER, SUPER, SUPER)
        for app, model in [
            ("auth", "user"),
            ("auth", "group"),
            ("authtoken", "tokenproxy"),
            *[
                ("django_celery_beat", m)
                for m in ("periodictask", "crontabschedule", "intervalschedule", "solarschedule", "clockedschedule")
            ],
        ]
    },
}
# The generic admin pages: which right each verb needs. The changelist's POST runs actions, each with its own right.
GENERIC = {"changelist": (0, 0), "history": (0, 0), "add": (1, 1), "change": (0, 2), "delete": (3, 3)}

POST_ONLY = 405  # a staff member's GET of a POST-only view
# Named views: {verb: who may}. 405 means "POST only" (anonymous visitors are sent to the login first).
RULES = {
    "admin:index": {"GET": STAFF, "POST": STAFF},
    "admin:login": {"GET": ALL, "POST": ALL},  # signed-in people are sent on to the index
    "admin:logout": {"POST": ALL},
    # The inboxes are open to all staff; each lists only that person's rows.
    "admin:executions_approval_changelist": {"GET": STAFF, "POST": STAFF},
    "admin:executions_task_changelist": {"GET": STAFF, "POST": STAFF},
    "admin:executions_notification_changelist": {"GET": STAFF, "POST": STAFF},
    "admin:password_change": {"GET": STAFF, "POST": STAFF},
    "admin:password_change_done": {"GET": STAFF},
    "admin:jsi18n": {"GET": STAFF},
    "admin:autocomplete": {"GET": NONE},  # no admin here declares autocomplete_fields
    "admin:app_list": {"GET": VIEW},  # the workflows app
    "admin:view_on_site": {"GET": NONE},  # no model has get_absolute_url
    "admin:auth_user_password_change": {"GET": SUPER, "POST": SUPER},
    "admin:workflows_workflow_run": {"GET": EDIT, "POST": EDIT},
    "admin:workflows_workflow_activate": {"GET": EDIT, "POST": EDIT},
    "admin:workflows_workflow_validate": {"GET": VIEW},
    "admin:workflows_workflow_status": {"GET": POST_ONLY, "POST": EDIT},
    "admin:workflows_workflow_trigger_preview": {"GET": EDIT},
    "admin:workflows_workflow_step_reference": {"GET": VIEW},
    "admin:workflows_workflow_replay": {"GET": EDIT, "POST": EDIT},  # replay past runs through the draft
    "admin:workflows_workflow_replayreport": {"GET": VIEW},  # a replay's report
    "admin:workflows_workflow_stepforms": {"GET": VIEW},  # a folded step's form, read-only without change
    "admin:workflows_workflowversion_act": {"GET": POST_ONLY, "POST": EDIT},
    "admin:workflows_workflowtemplate_use": {"GET": POST_ONLY, "POST": EDIT},
    # Four eyes: the editor asked for it, so only another editor (here the superuser) may approve it.
    "admin:workflows_activationrequest_decide": {"GET": POST_ONLY, "POST": SUPER},
    "admin:executions_execution_act": {"GET": POST_ONLY, "POST": EDIT},
    "admin:executions_approval_decide": {"GET": POST_ONLY, "POST": ELIGIBLE},
    "admin:executions_task_done": {"GET": POST_ONLY, "POST": ASSIGNED},
    "admin:integrations_connection_services": {"GET": EDIT},
    "admin:integrations_connection_oauth": {"GET": EDIT},
    "admin:integrations_connection_test": {"GET": POST_ONLY, "POST": EDIT},
    "faos-dashboard": {"GET": VIEW},
    "oauth-callback": {"GET": STAFF, "POST": {"anon": 405, **dict.fromkeys(STAFF, 405)}},
    # An e-mail's decision link: its signed token names the person, so a session adds nothing and a wrong token
    # is refused to everyone alike (tests/executions/test_decision_links.py follows real ones).
    "decision-link": {"GET": NONE, "POST": NONE},
    # Open to everyone, signed in or not, alike; 503 here because no Beat or worker runs beside this test.
    "faos-health": {"GET": dict.fromkeys(ROLES, 503)},
    "faos-metrics": {"GET": NONE},  # its bearer token (FAOS_METRICS_TOKEN) only: no session opens it
    "api:api-root": {"GET": STAFF},
    "api:schema": {"GET": ALL},
    "api:docs": {"GET": ALL},
    "api:redoc": {"GET": ALL},
    "api:webhook": {"POST": ALL},  # the hook's own token is its authentication (this one: auth none)
    # Slack's signature (a Slack connection's signing secret) is its only authentication: no session opens it;
    # the presser's mapped user must then be eligible (tests/executions/test_slack.py).
    "api:slack-interactions": {"POST": NONE},
    "api:workflow-list": {"GET": STAFF, "POST": EDIT},
    "api:workflow-import-": {"POST": EDIT},
    "api:workflow-detail": {"GET": VIEW, "PUT": EDIT, "PATCH": EDIT, "DELETE": EDIT},
    "api:workflow-activate": {"POST": EDIT},
    "api:workflow-deactivate": {"POST": EDIT},
    "api:workflow-diff": {"GET": VIEW},
    "api:workflow-duplicate": {"POST": EDIT},
    "api:workflow-export": {"GET": VIEW},
    "api:workflow-run": {"POST": EDIT},
    "api:workflow-validate": {"POST": VIEW},
    "api:workflow-versions": {"GET": VIEW, "POST": EDIT},
    "api:workflow-replays": {"GET": VIEW, "POST": EDIT},
    "api:replay-list": {"GET": STAFF},
    "api:replay-detail": {"GET": VIEW},
    "api:trigger-list": {"GET": STAFF, "POST": EDIT},
    "api:trigger-detail": {"GET": VIEW, "PUT": EDIT, "PATCH": EDIT, "DELETE": EDIT},
    "api:execution-list": {"GET": STAFF},
    "api:execution-detail": {"GET": VIEW},
    "api:execution-steps": {"GET": VIEW},
    "api:execution-cancel": {"POST": EDIT},
    "api:execution-rerun": {"POST": EDIT},
    "api:execution-retry": {"POST": EDIT},
    "api:approval-list": {"GET": STAFF},
    "api:approval-detail": {"GET": ELIGIBLE},
    "api:approval-approve": {"POST": ELIGIBLE},
    "api:approval-reject": {"POST": ELIGIBLE},
    "api:approval-delegate": {"POST": ELIGIBLE},
    "api:activation-list": {"GET": STAFF},
    "api:activation-detail": {"GET": VIEW},
    "api:activation-approve": {"POST": SUPER},
    "api:activation-reject": {"POST": SUPER},
    "api:activation-withdraw": {"POST": EDIT},  # the requester (the editor), and superusers
    "api:event-list": {"POST": STAFF},
    "api:template-list": {"GET": TEMPLATES},
    "api:template-detail": {"GET": TEMPLATES},
    "api:template-use": {"POST": EDIT},
    "api:agent-list": {"GET": EDIT, "POST": EDIT},
    "api:agent-detail": {"GET": EDIT, "PUT": EDIT, "PATCH": EDIT, "DELETE": SUPER},
    "api:connection-list": {"GET": EDIT, "POST": EDIT},
    "api:connection-detail": {"GET": EDIT, "PUT": EDIT, "PATCH": EDIT, "DELETE": SUPER},
    "api:connection-test": {"POST": EDIT},
    "api:connector-list": {"GET": STAFF},
    "api:connector-detail": {"GET": STAFF},
}


def urls(patterns=None, prefix="", namespace=""):
    """(name, route, kwargs names) of every named URL, first pattern per name (format suffixes are repeats)."""
    seen = set()
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            for found in urls(pattern.url_patterns, prefix + str(pattern.pattern), inner):
                if found[0] not in seen:
                    seen.add(found[0])
                    yield found
        elif isinstance(pattern, URLPattern) and pattern.name and f"{namespace}{pattern.name}" not in seen:
            seen.add(f"{namespace}{pattern.name}")
            yield f"{namespace}{pattern.name}", prefix + str(pattern.pattern), pattern


def rule_for(name: str) -> dict | None:
    if name in RULES:
        return RULES[name]
    model, _, page = name.removeprefix("admin:").rpartition("_")
    if name.startswith("admin:") and model in ADMIN_MODELS and page in GENERIC:
        rights = ADMIN_MODELS[model]
        get, post = GENERIC[page]
        return {"GET": rights[get], "POST": rights[post]}
    return None


def test_every_url_has_a_rule():
    missing = [name for name, _, _ in urls() if rule_for(name) is None]
    assert missing == [], f"URLs without a permission rule (add one to RULES and to the README): {missing}"


@pytest.fixture
def world():
    """One row of every kind, owned or requested by the editor; the approval and the task are the Approvers'."""
    approvers = role_groups([APPROVERS])[0]
    people = {
        "nobody": UserFactory(username="nobody", is_staff=True),
        "viewer": UserFactory(username="viewer", is_staff=True, roles=[VIEWERS]),
        "approver": UserFactory(username="approver", is_staff=True, roles=[APPROVERS]),
        "editor": UserFactory(username="editor", is_staff=True, roles=[EDITORS]),
        "superuser": UserFactory(username="root", is_staff=True, is_superuser=True),
    }
    editor = people["editor"]
    workflow = Workflow.objects.create(name="Lead Routing", owner=editor)
    workflow.steps.create(key="hello", name="Hello", config={"action": "log", "inputs": {"message": "hi"}})
    hook = Trigger.objects.create(workflow=workflow, kind="webhook", config={"auth": "none"})
    version = workflow_activate(workflow=workflow, user=editor)
    payouts = Workflow.objects.create(name="Payouts", owner=editor, activation_review=True)
    payouts.steps.create(key="pay", name="Pay", config={"action": "log", "input": {"message": "paid"}})
    activation = activation_start(workflow=payouts, user=editor)
    replay = Replay.objects.create(workflow=workflow, draft_version=version, requested_by=editor)
    execution = Execution.objects.create(workflow=workflow, version=version, input={}, started_by=editor)
    step_run = StepRun.objects.create(execution=execution, step_key="hello", step_name="Hello", step_kind="approval")
    approval = Approval.objects.create(execution=execution, step_run=step_run, title="Pay?", requested_by=editor)
    approval.approver_groups.add(approvers)
    objects = {
        "workflows_workflow": workflow,
        "workflows_workflowversion": version,
        "workflows_activationrequest": activation,
        "workflows_trigger": hook,
        "workflows_workflowtemplate": WorkflowTemplate.objects.create(
            slug="demo", name="Demo", category="Ops", description="d", definition={"name": "Demo", "steps": []}
        ),
        "workflows_agent": Agent.objects.create(name="Helper"),
        "replays_replay": replay,
        "executions_execution": execution,
        "executions_approval": approval,
        "executions_task": Task.objects.create(title="Call", assignee_group=approvers, execution=execution),
        "executions_notification": Notification.objects.create(user=editor, text="Hi"),
        "integrations_connection": Connection.objects.create(service="slack", credentials={"client_id": "x"}),
        "integrations_knowledgearticle": KnowledgeArticle.objects.create(title="Refunds", body="b"),
        "auth_user": editor,
        "auth_user_password": editor,
        "auth_group": approvers,
        "authtoken_tokenproxy": Token.objects.create(user=editor).user,  # its admin finds a token by its user
        "django_celery_beat_crontabschedule": CrontabSchedule.objects.create(),
        "django_celery_beat_intervalschedule": IntervalSchedule.objects.create(every=5, period="seconds"),
        "django_celery_beat_solarschedule": SolarSchedule.objects.create(event="sunset", latitude=1, longitude=1),
        "django_celery_beat_clockedschedule": ClockedSchedule.objects.create(
            clocked_time=datetime(2030, 1, 1, tzinfo=UTC)
        ),
    }
    objects["django_celery_beat_periodictask"] = PeriodicTask.objects.create(
        name="t", task="x", interval=objects["django_celery_beat_intervalschedule"]
    )
    return people, objects


def concrete(name: str, route: str, objects: dict) -> str:
    """The route with its parameters filled from the world's rows."""
    model = name.removeprefix("admin:").rsplit("_", 1)[0] if name.startswith("admin:") else ""
    api_kind = name.removeprefix("api:").split("-")[0]
    api_models = {"workflow": "workflows_workflow", "trigger": "workflows_trigger", "execution": "executions_execution"}
    api_models |= {"approval": "executions_approval", "agent": "workflows_agent"}
    api_models |= {"connection": "integrations_connection", "template": "workflows_workflowtemplate"}
    api_models |= {"activation": "workflows_activationrequest"}
    api_models |= {"replay": "replays_replay"}
    row = objects.get(model) or objects.get(api_models.get(api_kind, ""))
    values = {
        "<id>": str(row.pk) if row else "",
        "<path:object_id>": str(row.pk) if row else "",
        "<int:pk>": str(row.pk) if row else "",
        "<int:replay_id>": str(objects["replays_replay"].pk),
        "(?P<pk>[^/.]+)": str(row.pk) if row else "",
        "(?P<slug>[^/.]+)": "demo",
        "(?P<name>[^/.]+)": "slack",
        "<str:token>": objects["workflows_trigger"].token,
        "(?P<app_label>auth|django_celery_beat|authtoken|workflows|executions|integrations)": "workflows",
        "<int:content_type_id>/<path:object_id>": f"1/{objects['workflows_workflow'].pk}",
    }
    path = "/" + route
    for placeholder, value in sorted(values.items(), key=lambda item: -len(item[0])):
        path = path.replace(placeholder, value)
    return path.replace("^", "").replace("$", "")


def outcome(response) -> str | int:
    """allowed, denied, 405 or error, as a person would see it."""
    status = response.status_code
    location = response.get("Location", "")
    if status == 503:
        return 503  # unavailable: the health check's own answer, not a crash
    if status >= 500:
        return "error"
    if status == 405:
        return 405
    if status in (401, 403, 404) or (status in (301, 302) and ("/login/" in location or location == "/admin/")):
        return "denied"
    return "allowed"


OPEN_PAGES = ("admin:login", "admin:logout")  # anyone may sign in or out; where they are sent next varies


def expected(rule_roles, role: str):
    if rule_roles == POST_ONLY:
        return "denied" if role == "anon" else 405
    if isinstance(rule_roles, dict):
        return rule_roles[role]
    return "allowed" if role in rule_roles else "denied"


BODIES = {
    "api:approval-approve": {"comment": "ok"},
    "admin:executions_approval_decide": {"decision": "approve"},
    "api:activation-reject": {"comment": "not yet"},
    "admin:workflows_activationrequest_decide": {"decision": "approve"},
}


def ask(role: str, people: dict, name: str, method: str, path: str):
    """One request as this role, inside a savepoint that is rolled back afterwards."""
    api = name.startswith("api:") and name not in ("api:docs", "api:redoc")
    client = APIClient() if api else Client(raise_request_exception=False)
    client.raise_request_exception = False
    if role != "anon":
        (client.force_authenticate if api else client.force_login)(people[role])
    body = BODIES.get(name, {})
    with transaction.atomic():
        kwargs = {"format": "json"} if api else {}
        response = getattr(client, method.lower())(path, body, **kwargs)
        transaction.set_rollback(True)
    return response


@pytest.mark.parametrize("role", ROLES)
def test_every_url_answers_each_role_as_the_matrix_says(role, world):
    people, objects = world
    wrong = []
    for name, route, _ in urls():
        path = concrete(name, route, objects)
        for method, who in (rule_for(name) or {}).items():  # a URL without a rule fails the test above
            response = ask(role, people, name, method, path)
            want, got = expected(who, role), outcome(response)
            if name in OPEN_PAGES and response.status_code < 400:
                got = "allowed"
            if got != want:
                wrong.append(f"{method} {path} ({name}): expected {want}, got {got} [{response.status_code}]")
    assert wrong == [], "\n".join(wrong)


def test_the_matrix_is_not_trivially_open_or_closed(world):
    """The table itself: each role may do something and is refused something (the test can fail both ways)."""
    for role in ROLES[1:-1]:
        allowed = [n for n in RULES if any(expected(w, role) == "allowed" for w in RULES[n].values())]
        refused = [n for n in RULES if any(expected(w, role) == "denied" for w in RULES[n].values())]
        assert allowed and refused, role
    assert Group.objects.filter(name__in=[EDITORS, APPROVERS, VIEWERS]).count() == 3
