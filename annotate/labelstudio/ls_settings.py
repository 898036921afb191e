"""Label Studio's own settings plus the organization wall (:mod:`annotate.labelstudio.ls_guard`).

The safecal-managed server runs with ``DJANGO_SETTINGS_MODULE`` set to this module
(Label Studio only sets its default when the variable is unset). Everything is Label
Studio's ``label_studio.core.settings.label_studio``, except that the wall is appended
to the REST framework's default permission classes, which every Label Studio API view
uses (alone or with more classes of its own).

Label Studio's settings read ``django.conf.settings`` while they load (Sentry, the
version check), which then finds this module half-loaded and may import the REST
framework, whose views take their permission classes once, at import. So the base
settings and the wall are in place before Label Studio's settings are imported.
"""

from __future__ import annotations

import os
from typing import Any

from core.settings import base as _base


def _with_wall(rest_framework: dict[str, Any]) -> dict[str, Any]:
    classes = list(rest_framework["DEFAULT_PERMISSION_CLASSES"])
    return {**rest_framework, "DEFAULT_PERMISSION_CLASSES": [*classes, WALL]}


WALL = "safecal.annotate.labelstudio.ls_guard.OrganizationWall"
globals().update({k: v for k, v in vars(_base).items() if k.isupper()})
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
REST_FRAMEWORK = _with_wall(_base.REST_FRAMEWORK)

from label_studio.core.settings import label_studio as _label_studio  # noqa: E402

globals().update({k: v for k, v in vars(_label_studio).items() if k.isupper()})
REST_FRAMEWORK = _with_wall(_label_studio.REST_FRAMEWORK)
