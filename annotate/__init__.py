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
]
