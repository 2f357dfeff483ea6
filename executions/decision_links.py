"""One-click decision links for e-mails: signed, single-use, expiring, and bound to the person they were sent to.

A link names an approval or a task, a decision, the person (and a digest of their e-mail address, so a link
sent to an address they no longer have stops working) and a nonce shared by the links of one e-mail. Opening
it (GET) decides nothing: the page shows what would be decided; the POST decides through the inbox's own
services (approval_decide, task_complete), so every rule of the inbox holds, and spends the nonce in the
same transaction, so a link decides once.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from workflows import authz

from .approvals import ApprovalError, approval_decide
from .models import Approval, Task, UsedDecisionKey
from .tasks_service import task_complete

SALT = "faos.executions.decision-link"
DECISIONS = {"approval": ("approve", "reject"), "task": ("complete",)}


class LinkError(Exception):
    """A link that cannot decide: `status` is the page's HTTP status, `title` its heading."""

    def __init__(self, title: str, message: str, *, status: int, field: str = ""):
        super().__init__(message)
        self.title, self.status, self.field = title, status, field


@dataclass(frozen=True)
class Link:
    """What a valid token says: who decides what about which row."""

    kind: str
    object_id: int
    decision: str
    user: object
    nonce: str
    expires_at: datetime

    @property
    def target(self):
        model = Approval if self.kind == "approval" else Task
        return model.objects.select_related("execution__workflow").get(pk=self.object_id)


def _address_digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


def links_for(obj, *, user) -> dict[str, str]:
    """The absolute URLs of this person's links to decide `obj` (an Approval or a Task), one per decision."""
    kind = "approval" if isinstance(obj, Approval) else "task"
    nonce = secrets.token_urlsafe(12)  # shared: deciding with one link of an e-mail spends them all
    expires = int(time.time() + settings.FAOS_DECISION_LINK_HOURS * 3600)  # fixed when sent, whatever comes later
    base = settings.SITE_URL.rstrip("/")
    urls = {}
    for decision in DECISIONS[kind]:
        payload = {"k": kind, "id": obj.pk, "d": decision, "u": user.pk, "e": _address_digest(user.email), "n": nonce}
        payload["x"] = expires
        token = signing.dumps(payload, salt=SALT, compress=True)
        urls[decision] = base + reverse("decision-link", args=[token])
    return urls


def link_read(token: str) -> Link:
    """The link's content, or LinkError: tampered (404), expired or used (410), not this person's any more (403)."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise LinkError("This link is not valid", "Copy the whole link from the e-mail.", status=404) from None
    if not isinstance(data, dict) or data.get("d") not in DECISIONS.get(data.get("k"), ()):
        raise LinkError("This link is not valid", "Copy the whole link from the e-mail.", status=404)
    if not isinstance(data.get("x"), int) or data["x"] <= time.time():
        raise LinkError(
            "This link has expired",
            f"Decision links work for {settings.FAOS_DECISION_LINK_HOURS:g} hours. Sign in and decide in the inbox.",
            status=410,
        )
    if UsedDecisionKey.objects.filter(key=_nonce_key(data["n"])).exists():
        raise LinkError("This link has been used", "A decision was already recorded with it.", status=410)
    user = get_user_model().objects.filter(pk=data["u"], is_active=True).first()
    if user is None or not user.email or _address_digest(user.email) != data["e"]:
        raise LinkError(
            "This link is no longer yours",
            "It was sent to an address its recipient no longer has. Sign in and decide in the inbox.",
            status=403,
        )
    return Link(data["k"], int(data["id"]), data["d"], user, data["n"], datetime.fromtimestamp(data["x"], UTC))


def link_target(link: Link):
    """The approval or task, if its person may still see it (authz), else LinkError 403."""
    obj = link.target if _exists(link) else None
    if obj is None or not authz.may(link.user, "view", obj):
        raise LinkError("Not yours to decide", "This request is no longer assigned to you.", status=403)
    return obj


def _exists(link: Link) -> bool:
    return (Approval if link.kind == "approval" else Task).objects.filter(pk=link.object_id).exists()


def _nonce_key(nonce: str) -> str:
    return f"link:{nonce}"[:100]


@transaction.atomic
def link_decide(*, token: str, comment: str = ""):
    """Decide as the link says, for the person it names; once (the nonce is spent with the decision)."""
    link = link_read(token)
    obj = link_target(link)
    try:
        with transaction.atomic():  # a second use waits here for the first to commit, then finds the key taken
            UsedDecisionKey.objects.create(key=_nonce_key(link.nonce), expires_at=link.expires_at)
    except IntegrityError:
        raise LinkError("This link has been used", "A decision was already recorded with it.", status=410) from None
    if link.kind == "task":
        return _complete(obj, link.user)
    try:
        return approval_decide(approval_id=obj.pk, user=link.user, decision=link.decision, comment=comment)
    except ApprovalError as exc:
        title = {400: "A reason is needed", 409: "Already decided"}.get(exc.status, "Not yours to decide")
        raise LinkError(title, str(exc), status=exc.status, field=exc.field) from None


def _complete(task: Task, user) -> Task:
    if task.status != Task.Status.OPEN:
        raise LinkError("Already done", f"This task is already {task.get_status_display().lower()}.", status=409)
    try:
        done = task_complete(task_id=task.pk, user=user)  # asks authz "complete"
    except authz.Refused as exc:
        raise LinkError("Not yours to decide", str(exc), status=403) from None
    if done.completed_by_id != user.pk:  # someone else finished it while this request waited for the lock
        raise LinkError("Already done", f"{done.completed_by} marked it done first.", status=409)
    return done


def decision_keys_prune(*, now=None) -> int:
    """Forget spent keys whose link (or signed Slack request) has expired anyway; the daily retention job."""
    deleted, _ = UsedDecisionKey.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted
