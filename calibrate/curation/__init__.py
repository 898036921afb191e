"""Benchmark curation: find the queries that make a safety benchmark lie.

Signals per query (annotators' query-quality answers, human and judge-human
disagreement, uniform outcomes, near-duplicates) -> a keep / review / drop
table with reasons and evidence -> coverage per category x modality x language
before and after. See :func:`curate` and :func:`curation_pass`.
"""

from safecal.calibrate.curation.coverage import coverage, coverage_pivot
from safecal.calibrate.curation.duplicates import near_duplicates, similar_pairs, tfidf_matrix
from safecal.calibrate.curation.inputs import CurationInputs, load_inputs
from safecal.calibrate.curation.run import (
    CurationResult,
    check_planted,
    curate,
    curate_workspace,
    curation_pass,
    emptied_cells,
    item_evidence,
    summary_text,
    write_outputs,
)
from safecal.calibrate.curation.signals import SIGNALS
from safecal.calibrate.curation.table import decide, export_table
from safecal.calibrate.curation.thresholds import CurationThresholds

__all__ = [
    "SIGNALS",
    "CurationInputs",
    "CurationResult",
    "CurationThresholds",
    "check_planted",
    "coverage",
    "coverage_pivot",
    "curate",
    "curate_workspace",
    "curation_pass",
    "decide",
    "emptied_cells",
    "export_table",
    "item_evidence",
    "load_inputs",
    "near_duplicates",
    "similar_pairs",
    "summary_text",
    "tfidf_matrix",
    "write_outputs",
]
