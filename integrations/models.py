"""Connections: credentials for a service, encrypted at rest, never shown back."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from .crypto import EncryptedJSONField


class Connection(models.Model):
    """One account of one service (Stripe, Slack…) that connector steps act through."""

    class Status(models.TextChoices):
        UNTESTED = "untested", "Not tested"
        OK = "ok", "Working"
        FAILED = "failed", "Failing"

    class Sensitivity(models.TextChoices):
        NORMAL = "normal", "Normal"
        SENSITIVE = "sensitive", "Sensitive"
        MONEY = "money", "Moves money"

    service = models.SlugField(max_length=50, help_text="The connector, e.g. stripe, slack, zendesk.")
    name = models.CharField(max_length=100, default="default", help_text="Steps pick a connection by this name.")
    credentials = EncryptedJSONField(default=dict, blank=True, help_text="Stored encrypted; never shown back.")
    sensitivity = models.CharField(
        max_length=16,
        choices=Sensitivity.choices,
        default=Sensitivity.NORMAL,
        help_text="Money or sensitive: every workflow using it needs a second editor's approval to go live.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNTESTED)
    last_tested_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    allowed_groups = models.ManyToManyField(
        "auth.Group",
        blank=True,
        related_name="+",
        help_text="Who may use it in workflows: members of these groups. Empty: everyone who may use connections.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["service", "name"]
        permissions = [("use_connection", "Can use connections in workflows")]
        constraints = [models.UniqueConstraint(fields=["service", "name"], name="unique_connection_name")]

    def __str__(self) -> str:
        return f"{self.service}: {self.name}"

    @property
    def needs_review(self) -> bool:
        """Workflows using it go live only with a second editor's approval (four-eyes activation)."""
        return self.sensitivity != self.Sensitivity.NORMAL


class KnowledgeArticle(models.Model):
    """A help-centre article the support templates search before escalating."""

    title = models.CharField(max_length=300)
    body = models.TextField()
    tags = models.JSONField(default=list, blank=True)
    url = models.URLField(blank=True)
    is_published = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class SlackAccount(models.Model):
    """Who a Slack member is in FAOS, set by an administrator on the person's user page.

    Never guessed from a Slack profile's e-mail: workspace admins can change those, and people from other
    organisations appear in shared channels; a button press decides only for the person this row names.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="slack_account")
    member_id = models.CharField(
        "Slack member ID",
        max_length=32,
        validators=[RegexValidator(r"^[UW][A-Z0-9]{2,31}$", "A Slack member ID looks like U012AB3CD.")],
        help_text="In Slack: the person's profile → ⋮ → Copy member ID (U012AB3CD).",
    )
    team_id = models.CharField(
        "Slack workspace ID",
        max_length=32,
        blank=True,
        validators=[RegexValidator(r"^[TE][A-Z0-9]{2,31}$", "A Slack workspace ID looks like T012AB3CD.")],
        help_text="Only presses from this workspace (T…) count; empty: any workspace the FAOS app is in.",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member_id", "team_id"], name="unique_slack_member")]

    def __str__(self) -> str:
        return f"{self.member_id} ({self.user})"
