"""API for replays: ask for one on a workflow (POST /api/workflows/{id}/replays/), read its report."""

from django.core.exceptions import ValidationError
from rest_framework import status, viewsets
from rest_framework.response import Response

from workflows import authz
from workflows.api.permissions import Rules
from workflows.services import WorkflowInvalid

from ..models import Replay
from ..services import replay_progress, replay_request
from .serializers import ReplayDetailSerializer, ReplaySerializer


class ReplayViewSet(viewsets.ReadOnlyModelViewSet):
    """Replays of the workflows you can see; each one's report (runs side by side) under its id."""

    permission_classes = (Rules,)
    authz_model = "replays.replay"
    queryset = Replay.objects.none()  # typing for the schema; get_queryset scopes by user
    filterset_fields = ("workflow", "status")

    def get_queryset(self):
        replays = authz.visible(self.request.user, Replay).select_related(
            "workflow", "draft_version", "base_version", "requested_by"
        )
        return replays.prefetch_related("items") if self.action == "retrieve" else replays

    def get_serializer_class(self):
        return ReplayDetailSerializer if self.action == "retrieve" else ReplaySerializer

    def retrieve(self, request, *args, **kwargs):
        replay = self.get_object()
        data = self.get_serializer(replay).data
        if not replay.is_finished:
            data["summary"] = replay_progress(replay)["summary"]  # so far: the runs compared until now
        return Response(data)


def workflow_replays(request, workflow):
    """GET: the workflow's replays, newest first; POST: replay the selected past runs through the draft (202)."""
    from workflows.api.views import problems_response

    if request.method == "GET":
        replays = Replay.objects.of_workflow(workflow).select_related("draft_version", "base_version", "requested_by")
        return Response(ReplaySerializer(replays[:100], many=True).data)
    try:
        replay = replay_request(workflow=workflow, user=request.user, selection_data=request.data)
    except WorkflowInvalid as exc:
        return problems_response(exc.problems)
    except ValidationError as exc:
        return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)
    replay.refresh_from_db()  # a worker may have started it already (or, eagerly, finished it)
    return Response(ReplaySerializer(replay).data, status=status.HTTP_202_ACCEPTED)
