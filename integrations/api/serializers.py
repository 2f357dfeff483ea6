"""API shapes for connections (credentials write-only), connectors and their actions."""

from __future__ import annotations

from django.contrib.auth.models import Group
from rest_framework import serializers

from faos.fields import SlugField

from .. import connectors
from ..models import Connection
from ..services import connection_credential_problems, connection_set_credentials


class ConnectionSerializer(serializers.ModelSerializer):
    """`credentials` is write-only and merged into what is stored; responses list only the stored field names."""

    credentials = serializers.DictField(
        child=serializers.CharField(), write_only=True, required=False, help_text="Field name → value; never returned."
    )
    stored_fields = serializers.SerializerMethodField(help_text="Names of the stored credentials (values hidden).")
    allowed_groups = SlugField(
        many=True,
        slug_field="name",
        queryset=Group.objects.all(),
        required=False,
        help_text="Groups whose members may use it in workflows; empty: everyone who may use connections.",
    )

    class Meta:
        model = Connection
        fields = (
            "id",
            "service",
            "name",
            "credentials",
            "stored_fields",
            "sensitivity",
            "allowed_groups",
            "status",
            "last_tested_at",
            "last_error",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("status", "last_tested_at", "last_error", "created_at", "updated_at")

    def get_stored_fields(self, obj) -> list[str]:
        return sorted(obj.credentials or {})

    def validate_service(self, value):
        if connectors.get_service(value) is None:
            known = ", ".join(s.name for s in connectors.services())
            raise serializers.ValidationError(f"unknown service '{value}' (known: {known})")
        return value

    def validate(self, attrs):
        service = connectors.get_service(attrs.get("service") or self.instance.service)
        typed = attrs.get("credentials") or {}
        same_service = self.instance is not None and self.instance.service == service.name
        stored = self.instance.credentials if same_service else {}
        problems = [p for p in connection_credential_problems(service=service, stored=stored, typed=typed) if p]
        if problems:
            raise serializers.ValidationError({"credentials": problems[:1]})
        attrs["credentials"] = typed
        return attrs

    def create(self, validated):
        groups = validated.pop("allowed_groups", [])
        connection = Connection.objects.create(**validated)
        connection.allowed_groups.set(groups)
        return connection

    def update(self, instance, validated):
        same_service = validated.get("service", instance.service) == instance.service
        connection_set_credentials(connection=instance, typed=validated.pop("credentials"), same_service=same_service)
        return super().update(instance, validated)


class ConnectorActionSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    input_schema = serializers.JSONField()
    read_only = serializers.BooleanField()


class ConnectorSerializer(serializers.Serializer):
    """One service: what it needs to connect, whether it signs in with OAuth, and its actions with their schemas."""

    name = serializers.CharField()
    label = serializers.CharField()
    category = serializers.CharField()
    docs_url = serializers.CharField()
    credential_fields = serializers.JSONField()
    oauth = serializers.SerializerMethodField()
    test_action = serializers.CharField(allow_null=True)
    actions = serializers.SerializerMethodField()

    def get_oauth(self, service) -> bool:
        return service.oauth is not None

    def get_actions(self, service) -> list[dict]:
        from ..actions import all_actions

        found = [a for a in all_actions() if a.name.startswith(f"{service.name}.")]
        rows = [
            {"name": a.name, "label": a.label, "input_schema": a.input_schema, "read_only": a.read_only} for a in found
        ]
        return ConnectorActionSerializer(rows, many=True).data
