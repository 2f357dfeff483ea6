"""A replay of past runs through a draft (Replay) and one row per replayed run with its report (ReplayItem)."""

from django.conf import settings
from django.db import models

from .querysets import ReplayQuerySet


class Replay(models.Model):
    """An editor's request: these past runs' inputs, through this draft version, compared with what happened."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"

    workflow = models.ForeignKey("workflows.Workflow", on_delete=models.CASCADE, related_name="replays")
    draft_version = models.ForeignKey(
        "workflows.WorkflowVersion",
        on_delete=models.CASCADE,
        related_name="replays",
        help_text="The draft, frozen when the replay was asked for.",
    )
    base_version = models.ForeignKey(
        "workflows.WorkflowVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The active version at that time (what the draft would replace).",
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    selection = models.JSONField(default=dict, blank=True, help_text="Which past runs were asked for.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0, help_text="Runs replayed and compared so far.")
    summary = models.JSONField(default=dict, blank=True, help_text="How many runs came out the same, different…")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ReplayQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workflow", "draft_version", "created_at"], name="replay_draft_created")]

    def __str__(self) -> str:
        return f"Replay #{self.pk} of {self.workflow.name}"

    @property
    def is_finished(self) -> bool:
        return self.status == self.Status.FINISHED


class ReplayItem(models.Model):
    """One past run replayed: the test run it became, the verdict and the side-by-side report."""

    class Verdict(models.TextChoices):
        PENDING = "pending", "Not compared yet"
        SAME = "same", "Same"
        DIFFERENT = "different", "Different"
        NEWLY_FAILING = "newly_failing", "Newly failing"
        FIXED = "fixed", "Fixed"
        NO_ANSWER = "no_answer", "No answer to replay"
        NOT_STARTED = "not_started", "Could not start"

    replay = models.ForeignKey(Replay, on_delete=models.CASCADE, related_name="items")
    original_execution = models.ForeignKey(
        "executions.Execution", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    replay_execution = models.ForeignKey(
        "executions.Execution", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verdict = models.CharField(max_length=16, choices=Verdict.choices, default=Verdict.PENDING)
    outcome_changed = models.BooleanField(default=False, help_text="The run ended differently (status or output).")
    diff = models.JSONField(default=dict, blank=True, help_text="Both runs' paths and the differences found.")
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["replay", "id"]
        constraints = [
            models.UniqueConstraint(fields=["replay", "original_execution"], name="unique_replay_original"),
        ]

    def __str__(self) -> str:
        return f"run #{self.original_execution_id} in replay #{self.replay_id}"
