"""Workflow definitions: the editable draft (Workflow + Step + Trigger) and frozen versions."""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from integrations.crypto import EncryptedJSONField
from integrations.webhooks import GENERATED_SECRET

from .querysets import WorkflowQuerySet

STEP_KEY_VALIDATOR = RegexValidator(
    r"^[a-z_][a-z0-9_]{0,62}$",
    "Use lower-case letters, digits and underscores, starting with a letter (e.g. verify_email).",
)
RESERVED_STEP_KEYS = frozenset(
    {"trigger", "workflow", "vars", "item", "index", "event", "env", "true", "false", "null"}
)


def new_token() -> str:
    """An unguessable webhook path component."""
    return secrets.token_urlsafe(32)


def validate_concurrency_key(text: str) -> None:
    """A concurrency key is an expression over the trigger only: it is read before any step runs."""
    from executions.engine.expressions import check_syntax, references

    text = (text or "").strip()
    if not text:
        return
    errors = check_syntax(text)
    if errors:
        raise ValidationError(errors[0])
    if "{{" not in text:
        raise ValidationError("Write an expression, e.g. {{trigger.customer.id}}.")
    others = references(text) - {"trigger"}
    if others:
        raise ValidationError(f"Only trigger data can be read here, not {', '.join(sorted(others))}.")


class Workflow(models.Model):
    """A business process; its steps and triggers are the draft, its versions are frozen copies."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        ARCHIVED = "archived", "Archived"

    class OnFailure(models.TextChoices):
        NOTHING = "nothing", "Do nothing"
        NOTIFY_OWNER = "notify_owner", "E-mail the owner"

    class Overflow(models.TextChoices):
        QUEUE = "queue", "Queue it (runs start in arrival order)"
        SKIP = "skip", "Skip it (recorded as cancelled)"
        REPLACE = "replace", "Replace the oldest run in flight"

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="workflows"
    )
    timeout_seconds = models.PositiveIntegerField(
        default=300, validators=[MinValueValidator(1)], help_text="A run still going after this long is timed out."
    )
    count_paused_time = models.BooleanField(
        default=False, help_text="Count time spent waiting (waits, approvals, events) against the timeout."
    )
    on_failure = models.CharField(max_length=16, choices=OnFailure.choices, default=OnFailure.NOTHING)
    concurrency_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="At most this many runs in flight at once (per concurrency key, if one is set). Empty = no limit.",
    )
    concurrency_key = models.CharField(
        max_length=500,
        blank=True,
        validators=[validate_concurrency_key],
        help_text="Runs with the same key share the limit, e.g. {{trigger.customer.id}}: one customer's runs "
        "one at a time, in arrival order. Empty = one limit for the whole workflow.",
    )
    concurrency_overflow = models.CharField(
        max_length=16,
        choices=Overflow.choices,
        default=Overflow.QUEUE,
        help_text="What a run does when the limit is reached.",
    )
    activation_review = models.BooleanField(
        default=False,
        help_text="Activating asks a second editor (not the requester, not the last author) to approve the version "
        "first. Workflows using a connection marked money or sensitive always ask.",
    )
    sample_input = models.JSONField(default=dict, blank=True, help_text="Sample trigger data for test runs.")
    template_slug = models.SlugField(max_length=80, blank=True, help_text="The template this was created from.")
    active_version = models.ForeignKey(
        "WorkflowVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who last activated it: webhook, schedule and event runs act for this person.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkflowQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        permissions = [
            ("run_workflow", "Can run workflows (and cancel, retry, re-run their runs)"),
            ("activate_workflow", "Can activate, pause and roll back workflows"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="active") | Q(active_version__isnull=False), name="active_workflow_has_version"
            )
        ]

    def __str__(self) -> str:
        return self.name


class WorkflowVersion(models.Model):
    """An immutable snapshot of a workflow's definition; executions pin the version they started on."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    checksum = models.CharField(max_length=64)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["workflow", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "number"], name="unique_version_number"),
            models.UniqueConstraint(fields=["workflow", "checksum"], name="unique_version_checksum"),
        ]

    def __str__(self) -> str:
        return f"{self.workflow.name} v{self.number}"

    @property
    def is_active(self) -> bool:
        return self.workflow.active_version_id == self.pk


class ActivationRequest(models.Model):
    """A version waiting for a second editor's approval before it goes live (four-eyes activation)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"
        SUPERSEDED = "superseded", "Superseded"

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="activation_requests")
    version = models.ForeignKey(WorkflowVersion, on_delete=models.CASCADE, related_name="activation_requests")
    base_version = models.ForeignKey(
        WorkflowVersion,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The version that was active when it was asked for: the diff's left side.",
    )
    reasons = models.JSONField(default=list, blank=True, help_text="Why this activation needs a second editor.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who last edited the draft this version froze (or made the version): may not approve it.",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow"], condition=Q(status="pending"), name="one_pending_activation_request"
            )
        ]

    def __str__(self) -> str:
        return f"Activate {self.workflow.name} v{self.version.number}"


class Step(models.Model):
    """One step of a workflow's draft definition."""

    class OnError(models.TextChoices):
        STOP = "stop", "Stop the workflow"
        CONTINUE = "continue", "Continue to the next step"
        RETRY = "retry", "Retry, then stop"
        GOTO = "goto", "Go to another step"
        NOTIFY = "notify", "Notify the owner and stop"
        NOTIFY_CONTINUE = "notify_continue", "Notify the owner and continue"

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(default=0)
    key = models.CharField(
        max_length=63,
        validators=[STEP_KEY_VALIDATOR],
        help_text="Stable name used in variables, e.g. {{verify_email.result}}.",
    )
    name = models.CharField(max_length=200, help_text='Say what it does: "Verify Email", not "Step 1".')
    kind = models.CharField(max_length=32, default="action")
    config = models.JSONField(default=dict, blank=True)
    next_step = models.CharField(
        max_length=63, blank=True, help_text="Key of the step to run next; empty = the following step."
    )
    branches = models.JSONField(default=dict, blank=True, help_text='Branch targets, e.g. {"true": "premium"}.')
    timeout_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="Empty = the kind's default.")
    on_error = models.CharField(max_length=16, choices=OnError.choices, default=OnError.STOP)
    on_error_goto = models.CharField(max_length=63, blank=True, help_text="Step key for 'Go to another step'.")
    retry_max_attempts = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1)])
    retry_initial_delay = models.FloatField(default=1.0, validators=[MinValueValidator(0)])
    retry_multiplier = models.FloatField(default=2.0, validators=[MinValueValidator(1)])
    retry_max_delay = models.FloatField(default=300.0, validators=[MinValueValidator(0)])
    retry_jitter = models.BooleanField(default=True)

    class Meta:
        ordering = ["workflow", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "key"], name="unique_step_key"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.name})"


EDITABLE_STEP_FIELDS = (
    "key",
    "name",
    "kind",
    "config",
    "next_step",
    "branches",
    "timeout_seconds",
    "on_error",
    "on_error_goto",
    "retry_max_attempts",
    "retry_initial_delay",
    "retry_multiplier",
    "retry_max_delay",
    "retry_jitter",
)  # what the admin editor and the API may set on a step


class Trigger(models.Model):
    """How runs of a workflow start."""

    class Kind(models.TextChoices):
        MANUAL = "manual", "Manual"
        WEBHOOK = "webhook", "Webhook"
        SCHEDULE = "schedule", "Schedule"
        EVENT = "event", "Event"

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="triggers")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MANUAL)
    name = models.CharField(max_length=200, blank=True)
    config = models.JSONField(default=dict, blank=True)
    is_enabled = models.BooleanField(default=True)
    token = models.CharField(
        max_length=64, unique=True, default=new_token, editable=False, help_text="The secret part of a webhook URL."
    )
    secrets = EncryptedJSONField(
        default=list, blank=True, help_text="Webhook signing secrets (newest first); stored encrypted, never shown."
    )
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="faos_trigger"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workflow", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} trigger of {self.workflow}"

    def save(self, *args, **kwargs):
        """A webhook whose auth scheme checks a secret FAOS chooses gets one generated when it has none, however
        it is made (admin, API, import, a template), so it never answers 403 "no secret" to every delivery."""
        if self.kind == self.Kind.WEBHOOK and self.auth_scheme in GENERATED_SECRET and not self.secrets:
            self.secrets = [secrets.token_urlsafe(32)]
            self.generated_secret = self.secrets[0]  # the API shows it once, in the answer that made it
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "secrets"}
        super().save(*args, **kwargs)

    @property
    def auth_scheme(self) -> str:
        return (self.config or {}).get("auth", "token")


class Agent(models.Model):
    """An AI agent steps delegate to: a role, instructions, a model provider and the actions it may use."""

    class Provider(models.TextChoices):
        OFFLINE = "offline", "Built-in offline (rules and templates, no key needed)"
        OPENAI = "openai", "OpenAI-compatible API"
        ANTHROPIC = "anthropic", "Anthropic"

    name = models.CharField(max_length=200, unique=True)
    role = models.CharField(max_length=200, blank=True, help_text="e.g. Customer Service Agent")
    instructions = models.TextField(blank=True, help_text="How the agent should behave (the system prompt).")
    provider = models.CharField(max_length=16, choices=Provider.choices, default=Provider.OFFLINE)
    model = models.CharField(max_length=100, blank=True, help_text="e.g. gpt-4o-mini or claude-sonnet-4-5")
    temperature = models.FloatField(default=0.2, validators=[MinValueValidator(0)])
    max_tokens = models.PositiveIntegerField(default=800)
    allowed_actions = models.JSONField(
        default=list, blank=True, help_text='What it may do, e.g. ["classify", "draft_reply", "send_email"].'
    )
    connection = models.ForeignKey(
        "integrations.Connection",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        help_text="API key (and base URL) for OpenAI-compatible or Anthropic providers.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        """The connection must hold this provider's key: an agent never sends another service's secret."""
        from integrations.agents import connection_problem

        problem = connection_problem(self.provider, self.connection)
        if problem:
            raise ValidationError({"connection": problem})


class WorkflowTemplate(models.Model):
    """A ready-made workflow from the library (files under workflows/library/), shown in the gallery."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=100)
    description = models.TextField()
    use_when = models.TextField(blank=True)
    claim = models.CharField(max_length=300, blank=True, help_text="The product guide's claim, e.g. time saved.")
    needs = models.JSONField(default=dict, blank=True, help_text="Connections and agents it uses.")
    trigger_summary = models.CharField(max_length=300, blank=True)
    definition = models.JSONField()
    checksum = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category", "name"]
        verbose_name = "template"

    def __str__(self) -> str:
        return self.name
