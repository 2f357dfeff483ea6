"""The runtime's rows: an Execution per run and a StepRun per step attempt. Rows are the truth."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from .querysets import ExecutionQuerySet, StepRunQuerySet


class Execution(models.Model):
    """One run of one workflow version."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        TIMED_OUT = "timed_out", "Timed out"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.TIMED_OUT)
    IN_FLIGHT = (Status.PENDING, Status.RUNNING, Status.WAITING)  # what a workflow's concurrency limit counts
    UNFINISHED = (Status.QUEUED, *IN_FLIGHT)

    # Indexed by execution_wf_status_created, which leads with it: a second index would be one more write a run.
    workflow = models.ForeignKey(
        "workflows.Workflow", on_delete=models.CASCADE, related_name="executions", db_index=False
    )
    version = models.ForeignKey("workflows.WorkflowVersion", on_delete=models.PROTECT, related_name="executions")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    input = models.JSONField(default=dict, blank=True)
    output = models.JSONField(null=True, blank=True)
    variables = models.JSONField(default=dict, blank=True)
    trigger_kind = models.CharField(max_length=16, default="manual")
    trigger_source = models.CharField(max_length=200, blank=True)
    trigger_meta = models.JSONField(default=dict, blank=True)
    is_test = models.BooleanField(default=False)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    # These three are empty on most runs: partial indexes (below) hold only the rows that have one.
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries", db_index=False
    )
    parent_step_run = models.ForeignKey(
        "StepRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        help_text="The sub_workflow step waiting for this run.",
        db_index=False,
    )
    error = models.TextField(blank=True)
    error_step = models.CharField(max_length=63, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveBigIntegerField(null=True, blank=True)
    concurrency_key = models.CharField(
        max_length=500, null=True, blank=True, help_text="The key this run shares its workflow's limit by."
    )
    steps_done = models.PositiveIntegerField(
        default=0, help_text="Step attempts finished so far; the runtime's workers use it to notice each other's work."
    )

    objects = ExecutionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workflow", "status", "created_at"], name="execution_wf_status_created"),
            models.Index(fields=["status", "deadline_at"], name="execution_status_deadline"),
            models.Index(
                fields=["workflow", "concurrency_key", "status"],
                condition=Q(concurrency_key__isnull=False),
                name="execution_concurrency",
            ),
            models.Index(fields=["started_by"], condition=Q(started_by__isnull=False), name="execution_started_by"),
            models.Index(fields=["retry_of"], condition=Q(retry_of__isnull=False), name="execution_retry_of"),
            models.Index(
                fields=["parent_step_run"], condition=Q(parent_step_run__isnull=False), name="execution_parent_step"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="unique_execution_idempotency_key",
            ),
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True) | Q(status__in=["succeeded", "failed", "cancelled", "timed_out"]),
                name="only_finished_execution_has_finished_at",
            ),
        ]

    def __str__(self) -> str:
        return f"Run #{self.pk} of {self.workflow.name}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def fast_forward(self) -> bool:
        """A test run asked to skip time: waits, loop rate limits and retry back-offs end at once."""
        return self.is_test and bool(self.trigger_meta.get("fast_forward"))


class StepRun(models.Model):
    """One attempt of one step in one execution: rendered input, output, error, timing and lease."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"

    OPEN = (Status.PENDING, Status.RUNNING)  # still to finish: a run with one open is not idle

    # Indexed by steprun_execution_order and unique_step_visit_attempt, which lead with it.
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="step_runs", db_index=False)
    step_key = models.CharField(max_length=63)
    step_name = models.CharField(max_length=200, blank=True)
    step_kind = models.CharField(max_length=32)
    scope = models.CharField(max_length=200, blank=True, default="", help_text="Loop item or branch path.")
    visit = models.PositiveIntegerField(default=1, help_text="Times the path reached this step (polling loops).")
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    error_detail = models.JSONField(null=True, blank=True)
    requests = models.JSONField(
        null=True, blank=True, help_text="Outbound requests this attempt sent (credentials redacted)."
    )
    retryable = models.BooleanField(null=True, blank=True)
    tokens_in = models.PositiveIntegerField(default=0, help_text="Model tokens read (agent steps).")
    tokens_out = models.PositiveIntegerField(default=0, help_text="Model tokens written (agent steps).")
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, default=0, help_text="Estimated model cost.")
    branch = models.CharField(max_length=63, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    wake_at = models.DateTimeField(null=True, blank=True, help_text="Not runnable before this time.")
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveBigIntegerField(null=True, blank=True)
    waiting_for = models.CharField(max_length=200, blank=True, help_text="Event type a parked step waits for.")
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(
        max_length=200, blank=True, help_text="The worker (Celery node:process) that claimed this attempt last."
    )
    claims = models.PositiveSmallIntegerField(default=0, help_text="Times a worker picked this attempt up.")

    objects = StepRunQuerySet.as_manager()

    class Meta:
        ordering = ["execution", "id"]
        indexes = [
            models.Index(fields=["status", "wake_at"], name="steprun_status_wake"),
            # Only running rows hold a lease and only pending ones wait for an event: a finished step run (nearly
            # every row) is written to neither index.
            models.Index(fields=["status", "lease_expires_at"], condition=Q(status="running"), name="steprun_leases"),
            models.Index(fields=["waiting_for", "status"], condition=Q(status="pending"), name="steprun_waiting"),
            # A run's step runs in order, a page at a time: without it a LIMIT walks the whole table by id.
            models.Index(fields=["execution", "id"], name="steprun_execution_order"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["execution", "step_key", "scope", "visit", "attempt"], name="unique_step_visit_attempt"
            ),
            models.CheckConstraint(
                condition=~Q(status="running") | Q(lease_expires_at__isnull=False), name="running_step_has_lease"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.step_key} attempt {self.attempt} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        """The same for every claim and every retry of this step visit, so a vendor that saw an earlier try (a
        timeout after the refund was made, a worker killed mid-call) recognises the repeat instead of acting twice;
        each loop item (scope) and each pass of a polling cycle (visit) is its own operation."""
        scope = f":{self.scope}" if self.scope else ""
        visit = f".{self.visit}" if self.visit > 1 else ""
        return f"faos-{self.execution_id}-{self.step_key}{scope}{visit}"


class Event(models.Model):
    """Something that happened: emitted by the API, by the system (execution.failed…) or by integrations."""

    type = models.CharField(max_length=200, db_index=True)
    data = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=200, blank=True)
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who posted it; it reaches only runs this person may run. Empty: the system.",
    )
    about = models.ForeignKey(
        "workflows.Workflow",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The workflow a system event tells about; it reaches only runs whose person may see it.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    resumed = models.PositiveIntegerField(default=0, help_text="Waiting steps this event resumed.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["type", "created_at"], name="event_type_created")]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"

    def as_variable(self) -> dict:
        return {
            "id": self.pk,
            "type": self.type,
            "data": self.data,
            "source": self.source,
            "created_at": self.created_at.isoformat(),
        }


class Approval(models.Model):
    """A paused run asking people to approve or reject (refund > $100, content approval)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="approvals")
    step_run = models.OneToOneField(StepRun, on_delete=models.CASCADE, related_name="approval")
    title = models.CharField(max_length=300)
    details = models.TextField(blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    approvers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="approvals_to_decide")
    approver_groups = models.ManyToManyField("auth.Group", blank=True, related_name="approvals_to_decide")
    escalation_groups = models.ManyToManyField("auth.Group", blank=True, related_name="approvals_escalated")
    required_approvals = models.PositiveSmallIntegerField(default=1)
    allow_requester = models.BooleanField(default=False, help_text="May the person who started the run approve?")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    due_at = models.DateTimeField(null=True, blank=True)
    remind_every = models.DurationField(null=True, blank=True)
    next_reminder_at = models.DateTimeField(null=True, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    history = models.JSONField(default=list, blank=True, help_text="Delegations and escalations, in order.")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["status", "due_at", "-created_at"]
        permissions = [("decide_any_approval", "Can decide any approval")]
        indexes = [
            # The inbox's order: a page of it reads its 50 rows, not every approval joined to its run, then sorted.
            models.Index(fields=["-status", "due_at", "-created_at", "-id"], name="approval_inbox_order"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(decided_at__isnull=True) | ~Q(status="pending"), name="pending_approval_is_undecided"
            )
        ]

    def __str__(self) -> str:
        return self.title


class ApprovalDecision(models.Model):
    """One person's approve/reject on an approval (N-of-M keeps several)."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approve"
        REJECT = "reject", "Reject"

    approval = models.ForeignKey(Approval, on_delete=models.CASCADE, related_name="decisions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approval_decisions")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["approval", "user"], name="one_decision_per_user")]

    def __str__(self) -> str:
        return f"{self.user} {self.decision}"


class Task(models.Model):
    """A piece of work for a person ("create task for human review", "week 1 checklist", "restock")."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="faos_tasks"
    )
    assignee_group = models.ForeignKey("auth.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    due_at = models.DateTimeField(null=True, blank=True)
    checklist = models.JSONField(default=list, blank=True, help_text='[{"text": "Laptop", "done": false}, …]')
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    execution = models.ForeignKey(Execution, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")
    step_run = models.OneToOneField(StepRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="task")
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["status", "due_at", "-created_at"]

    def __str__(self) -> str:
        return self.title


class Notification(models.Model):
    """An in-admin notice for one person: an approval waiting, a task assigned."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="faos_notifications")
    text = models.CharField(max_length=300)
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_unread")]

    def __str__(self) -> str:
        return self.text


class UsedDecisionKey(models.Model):
    """A one-time key that has been spent: an e-mail link's nonce, or a verified Slack request (its signature).

    Inserted in the transaction that records the decision, so a link decides once however often it is opened.
    """

    key = models.CharField(max_length=100, unique=True)
    used_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True, help_text="What it spent stops working then; deleted after.")

    def __str__(self) -> str:
        return self.key


class OutboxMessage(models.Model):
    """Something to tell the world (an event, an e-mail, a chat notice), written in the transaction that decided
    it and delivered afterwards by executions/runtime/outbox.py: a worker that dies after the commit loses nothing."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERING = "delivering", "Delivering"  # claimed; next_attempt_at is then the claim's lease
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"  # gave up after the last attempt

    kind = models.CharField(max_length=32)
    payload = models.JSONField(default=dict, blank=True)
    key = models.CharField(max_length=200, unique=True, help_text="One decision writes one row, however often.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "delivering"]),
                name="outbox_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} ({self.status})"
