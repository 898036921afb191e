"""Stage 1: the workspace, ingest, the bundled example, sampling, Label Studio, gold labels.

annotate/ imports neither calibrate/ nor dashboards/.
"""

from safecal.annotate.errors import InputError
from safecal.annotate.ingest_report import IngestReport
from safecal.annotate.items import ingest_items
from safecal.annotate.labels import (
    ASPECTS,
    FIELD_FOR_ASPECT,
    HARMFULNESS,
    LANGUAGES,
    MODALITIES,
    POSITIVE,
    REFUSAL,
    SCALES,
    modality,
    to_binary,
)
from safecal.annotate.readers import iter_table, read_table
from safecal.annotate.responses import ingest_responses, response_id
from safecal.annotate.store import SCHEMA_VERSION, Workspace, resolve_workspace
from safecal.annotate.taxonomy import Taxonomy, load_taxonomy

# isort: split
# ---- annotation round trip (issue 3): sampling, assignments, Label Studio, gold ----
from safecal.annotate.adjudication import Resolution, build_gold, honeypot_accuracy, resolve
from safecal.annotate.assign import AssignmentPlan, plan_assignments
from safecal.annotate.dawid_skene import DawidSkeneResult, dawid_skene
from safecal.annotate.gold_export import export_gold, gold_table
from safecal.annotate.human_labels import import_honeypots, import_labels
from safecal.annotate.labelstudio.accounts import Account, ensure_accounts
from safecal.annotate.labelstudio.client import Connection, connect, connect_to
from safecal.annotate.labelstudio.configs import label_config
from safecal.annotate.labelstudio.demo_steps import (
    DemoLabeling,
    setup_demo_labeling,
    start_demo_server,
)
from safecal.annotate.labelstudio.pull import PullReport, pull
from safecal.annotate.labelstudio.push import PushReport, push
from safecal.annotate.labelstudio.review import ReviewReport, pull_reviews, push_reviews
from safecal.annotate.labelstudio.server import ServerInfo, server_status, start_server, stop_server
from safecal.annotate.sampling import SampleResult, allocate, draw_sample

# ---- end of the annotation block ----

__all__ = [
    "ASPECTS",
    "FIELD_FOR_ASPECT",
    "HARMFULNESS",
    "LANGUAGES",
    "MODALITIES",
    "POSITIVE",
    "REFUSAL",
    "SCALES",
    "SCHEMA_VERSION",
    "IngestReport",
    "InputError",
    "Taxonomy",
    "Workspace",
    "ingest_items",
    "ingest_responses",
    "iter_table",
    "load_taxonomy",
    "modality",
    "read_table",
    "resolve_workspace",
    "response_id",
    "to_binary",
    # annotation round trip (issue 3)
    "Account",
    "AssignmentPlan",
    "Connection",
    "DawidSkeneResult",
    "DemoLabeling",
    "PullReport",
    "PushReport",
    "Resolution",
    "ReviewReport",
    "SampleResult",
    "ServerInfo",
    "allocate",
    "build_gold",
    "connect",
    "connect_to",
    "dawid_skene",
    "draw_sample",
    "ensure_accounts",
    "export_gold",
    "gold_table",
    "honeypot_accuracy",
    "import_honeypots",
    "import_labels",
    "label_config",
    "plan_assignments",
    "pull",
    "pull_reviews",
    "push",
    "push_reviews",
    "resolve",
    "server_status",
    "setup_demo_labeling",
    "start_demo_server",
    "start_server",
    "stop_server",
]
