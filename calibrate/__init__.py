"""calibrate"""

# isort: split
# ---- curation (issue 7): find the benchmark queries that make it lie ----
from calibrate.curation import (
    CurationInputs,
    CurationResult,
    CurationThresholds,
    coverage,
    coverage_pivot,
    curate,
    curate_workspace,
    curation_pass,
    emptied_cells,
    export_table,
    item_evidence,
    load_inputs,
    near_duplicates,
    summary_text,
)

# ---- end of the curation block ----

__all__ = [
    # curation (issue 7)
    "CurationInputs",
    "CurationResult",
    "CurationThresholds",
    "coverage",
    "coverage_pivot",
    "curate",
    "curate_workspace",
    "curation_pass",
    "emptied_cells",
    "export_table",
    "item_evidence",
    "load_inputs",
    "near_duplicates",
    "summary_text",
]
