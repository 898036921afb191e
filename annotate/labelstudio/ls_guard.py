"""The organization wall: a REST permission that runs inside the Label Studio server.

Why hand-written: Label Studio Community assumes one organization per server. Its
lists filter by the user's ``active_organization``, but its object checks do not:
``Project.has_permission`` (``projects/mixins.py``, 1.23) admits every user whose
membership was not revoked, so ``GET /api/annotations/<id>`` or
``GET /api/tasks?project=<id>`` reads another organization's data by id; and any user
may set their own ``active_organization`` to any organization id with
``PATCH /api/users/<id>``. safecal gives each annotator and each reviewer an
organization of their own (see :mod:`annotate.labelstudio.organizations`), so both
gaps must close. :class:`OrganizationWall` is appended to Label Studio's
``DEFAULT_PERMISSION_CLASSES`` by :mod:`annotate.labelstudio.ls_settings`:

- object level: an object whose organization (its own, or its project's) is not the
  requesting user's active organization is refused;
- users: a user may change only their own account, and may make active only an
  organization they are a (not revoked) member of;
- settings: only the lead (``SAFECAL_LEAD_EMAIL``, the workspace's admin account)
  may create, change or delete projects, tasks, storages, webhooks, models,
  predictions, labels or organizations, or run Data Manager actions (deleting tasks
  or annotations in bulk, ...); the others keep what labeling needs (reading their
  project and tasks, their own annotations and drafts, the Data Manager's tabs, and
  its ``next_task`` action, which the labeling stream calls).

This module imports Label Studio lazily: it is loaded only by the server.
"""

from __future__ import annotations

import os
from typing import Any

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Label Studio permission names (``core/permissions.py``) only the lead may use to write
LEAD_ONLY = ("projects.", "tasks.", "storages.", "webhooks.", "models.", "predictions.",
             "labels.", "organizations.", "actions.", "model_provider_connection.")  # fmt: skip


#: Data Manager actions everyone may run: the labeling stream's "next task"
LABELING_ACTIONS = frozenset({"next_task"})


def _lead_email() -> str:
    return os.environ.get("SAFECAL_LEAD_EMAIL", "").lower()


def is_lead(user: Any) -> bool:
    email = str(getattr(user, "email", "") or "").lower()
    return bool(email) and email == _lead_email()


def required_permission(view: Any, method: str) -> str:
    """The Label Studio permission name a view declares for ``method`` ('' if none)."""
    declared = getattr(view, "permission_required", None)
    if declared is None:
        return ""
    if isinstance(declared, str):
        return declared
    return str(getattr(declared, method, None) or "")


def organization_of(obj: Any) -> int | None:
    """The organization id an object belongs to (itself, or through its project)."""
    kind = type(obj).__name__
    if kind == "User":  # Label Studio hangs a ``project`` on users for its activity log
        return None
    if kind == "Organization":
        return int(obj.pk)
    project = obj if kind == "Project" else getattr(obj, "project", None)
    if project is not None and hasattr(project, "organization_id"):
        return project.organization_id
    org = getattr(obj, "organization_id", None)
    return int(org) if org is not None else None


def _member_of(user: Any, organization_id: Any) -> bool:
    from organizations.models import OrganizationMember

    return OrganizationMember.objects.filter(
        user=user, organization_id=organization_id, deleted_at__isnull=True
    ).exists()


class OrganizationWall:
    """DRF permission (duck-typed: Label Studio loads it by dotted path)."""

    message = "safecal: outside your organization, or a lead-only change"

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if not getattr(user, "is_authenticated", False):
            return True  # IsAuthenticated, next in the list, answers
        method = request.method.upper()
        if method in SAFE_METHODS or is_lead(user):
            return True
        if type(view).__name__ == "UserAPI":
            return self._user_change_allowed(request, view)
        if type(view).__name__ == "ProjectActionsAPI":  # Data Manager actions (POST)
            return request.query_params.get("id") in LABELING_ACTIONS
        needed = required_permission(view, method)
        return needed.endswith(".view") or not needed.startswith(LEAD_ONLY)

    def _user_change_allowed(self, request: Any, view: Any) -> bool:
        target = view.kwargs.get("pk")
        if target is not None and str(target) != str(request.user.pk):
            return False
        data = getattr(request, "data", None) or {}
        wanted = data.get("active_organization") if hasattr(data, "get") else None
        return wanted is None or _member_of(request.user, wanted)

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        user = request.user
        org = organization_of(obj)
        if org is not None and org != getattr(user, "active_organization_id", None):
            return False
        if type(obj).__name__ == "User" and request.method.upper() not in SAFE_METHODS:
            if obj.pk != user.pk:
                return False
            wanted = (getattr(request, "data", None) or {}).get("active_organization")
            return wanted is None or _member_of(user, wanted)
        return True
