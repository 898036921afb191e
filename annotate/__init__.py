"""Stage 1: the workspace, ingest, the bundled example, sampling, Label Studio, gold labels.

annotate/ imports neither calibrate/ nor dashboards/.
"""

from annotate.errors import InputError
from annotate.ingest_report import IngestReport
from annotate.items import ingest_items
from annotate.labels import (
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
from annotate.readers import iter_table, read_table
from annotate.responses import ingest_responses, response_id
from annotate.taxonomy import Taxonomy, load_taxonomy
from annotate.workspace import SCHEMA_VERSION, Workspace, resolve_workspace

# isort: split
# ---- annotation round trip (issue 3): sampling, assignments, Label Studio, gold ----
from annotate.adjudication import Resolution, build_gold, honeypot_accuracy, resolve
from annotate.assign import AssignmentPlan, plan_assignments
from annotate.dawid_skene import DawidSkeneResult, dawid_skene
from annotate.gold_export import export_gold, gold_table
from annotate.human_labels import import_honeypots, import_labels
from annotate.labelstudio.accounts import Account, ensure_accounts
from annotate.labelstudio.client import Connection, connect, connect_to
from annotate.labelstudio.configs import label_config
from annotate.labelstudio.demo_steps import DemoLabeling, setup_demo_labeling, start_demo_server
from annotate.labelstudio.pull import PullReport, pull
from annotate.labelstudio.push import PushReport, push
from annotate.labelstudio.review import ReviewReport, pull_reviews, push_reviews
from annotate.labelstudio.server import ServerInfo, server_status, start_server, stop_server
from annotate.sampling import SampleResult, allocate, draw_sample

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
