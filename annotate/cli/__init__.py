"""Command-line groups of the annotate stage: ``ingest``, ``annotate``, ``labelstudio``."""
