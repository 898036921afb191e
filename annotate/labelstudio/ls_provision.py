"""Run inside Label Studio's Django (``python -m safecal.annotate.labelstudio.ls_provision``):
give each person an organization of their own, with the lead as a second member.

Why hand-written: Label Studio Community has no API to create an organization (it
makes one, for the first user, and invites everyone else into it). Reads a JSON list
``[{"email", "role", "password"}]`` and the lead's email from standard input (never
the command line) and prints one ``SAFECAL-RESULT <json>`` line: per person the user
id, the organization id and whether the account was created. For each person, in one
transaction:

- the account is created with the given password if it does not exist (its legacy
  API token is made by Label Studio's own ``post_save`` hook);
- the organization titled ``safecal <role>: <email>`` is found or created, owned by
  the person (Label Studio needs an owner: its feature flags read the owner's email),
  with the person as its first member (so Label Studio's login makes it their active
  one) and the lead as its second (made a member again if the person removed it);
  legacy and personal API tokens are enabled in it;
- every other membership of the person (an account made earlier by invitation into
  the lead's organization) is removed, and their active organization set to theirs.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def _setup_django() -> None:
    import label_studio

    sys.path.insert(0, str(Path(label_studio.__file__).parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safecal.annotate.labelstudio.ls_settings")
    import django

    django.setup()


def organization_title(email: str, role: str) -> str:
    return f"safecal {role}: {email}"


def provision(lead_email: str, people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from django.db import transaction
    from organizations.models import Organization, OrganizationMember
    from users.models import User

    lead = User.objects.get(email__iexact=lead_email)
    out = []
    for person in people:
        email = str(person["email"]).lower()
        with transaction.atomic():
            user = User.objects.filter(email__iexact=email).first()
            created = user is None
            if user is None:
                user = User.objects.create_user(email=email, password=person["password"])
                user.username = email.split("@")[0]
                user.save(update_fields=["username"])
            title = organization_title(email, str(person["role"]))
            org = Organization.objects.filter(title=title).first()
            if org is None:
                org = Organization.objects.create(title=title, created_by=user)
                OrganizationMember.objects.create(user=user, organization=org)
                jwt = getattr(org, "jwt", None)
                if jwt is not None:
                    jwt.api_tokens_enabled = True
                    jwt.legacy_api_tokens_enabled = True
                    jwt.save()
            # the lead is (again) a member: the person, as owner, may have removed it
            OrganizationMember.objects.get_or_create(user=lead, organization=org)
            OrganizationMember.objects.filter(user=lead, organization=org).update(deleted_at=None)
            OrganizationMember.objects.filter(user=user).exclude(organization=org).delete()
            user.active_organization = org
            user.save(update_fields=["active_organization"])
        out.append(
            {"email": email, "user_id": user.pk, "organization_id": org.pk, "created": created}
        )
    return out


def main() -> None:
    _setup_django()
    request = json.loads(sys.stdin.read())
    result = provision(request["lead"], request["people"])
    print("SAFECAL-RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
