"""The judge card: how far one judge can be trusted, as self-contained HTML and JSON."""
