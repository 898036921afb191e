"""``safecal ingest items | responses``: load and check benchmark items and model responses."""

from __future__ import annotations

import argparse
import sys

from safecal.annotate.cli.common import encoding_option, open_workspace, workspace_parent
from safecal.annotate.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="load benchmark items and model responses (and inspect_ai / promptfoo runs)",
    )
    commands = parser.add_subparsers(dest="ingest_command", metavar="COMMAND", required=True)
    parent = workspace_parent()

    items = commands.add_parser(
        "items",
        parents=[parent],
        help="benchmark items (USB CSV columns, or mapped)",
        description="Load benchmark items (CSV, JSONL or Parquet) and check their images.",
    )
    items.add_argument("file", help="the benchmark file")
    items.add_argument("--images", help="the image folder (default: the file's folder)")
    items.add_argument("--taxonomy", help="a taxonomy CSV (default: USB-SafeBench's 61 categories)")
    items.add_argument(
        "--allow-missing-images",
        action="store_true",
        help="ingest items whose image is missing or unreadable, without the image",
    )
    _common(items)
    items.set_defaults(func=_items)

    responses = commands.add_parser(
        "responses",
        parents=[parent],
        help="model responses, one file or several",
        description="Load model responses: columns item_id (or id), model, language (en|zh), "
        "response; optional settings (JSON object) and timestamp.",
    )
    responses.add_argument("files", nargs="+", metavar="FILE", help="response files")
    _common(responses)
    responses.set_defaults(func=_responses)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--map",
        action="append",
        metavar="FIELD=COLUMN",
        default=[],
        help="read FIELD from COLUMN (repeatable)",
    )
    encoding_option(parser, of="the input files (and --taxonomy)")
    parser.add_argument(
        "--replace",
        action="store_true",
        help="overwrite ids already in the workspace whose content changed",
    )


def _items(args: argparse.Namespace) -> int:
    from safecal.annotate.items import ingest_items
    from safecal.annotate.readers import parse_mapping

    ws = open_workspace(args, create=True)
    report = ingest_items(
        ws,
        args.file,
        images=args.images,
        mapping=parse_mapping(args.map),
        encoding=args.encoding,
        taxonomy=args.taxonomy,
        allow_missing_images=args.allow_missing_images,
        replace=args.replace,
    )
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(report.summary())
    return 0


def _responses(args: argparse.Namespace) -> int:
    from safecal.annotate.readers import parse_mapping
    from safecal.annotate.responses import ingest_responses

    ws = open_workspace(args, create=False)
    mapping = parse_mapping(args.map)
    done: list[str] = []
    for k, file in enumerate(args.files):
        try:
            report = ingest_responses(
                ws, file, mapping=mapping, encoding=args.encoding, replace=args.replace
            )
        except InputError as exc:
            if not done:
                raise
            rest = ", ".join(str(f) for f in args.files[k + 1 :])
            raise InputError(
                f"{exc}\n(each file is one transaction: {', '.join(done)} stayed ingested; "
                f"{file}{', ' + rest if rest else ''} not; fix {file} and rerun the same "
                "command: files already ingested are unchanged by a rerun)"
            ) from None
        done.append(str(file))
        print(report.summary())
    return 0
