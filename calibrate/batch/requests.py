"""Batch-input lines: one chat-completion request per distinct judged input.

A line is ``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}`` with
``body`` = :meth:`LLMJudge.request_body` of the case, written as compact JSON (UTF-8, not
ASCII-escaped). The ``custom_id`` is ``safecal-<first 16 hex of the judge config key>-<input
key>``: the input key is the cache key of what was judged, so an answer lands in the cache
under exactly the input it answers (a response edited since does not take it), responses
with the same input share one request, and the config part tells an answer file made with
other judge options from one made with these.

Why a line is not simply ``json.dumps`` of the request: at a million requests that costs
most of the export. Every text-only request of a field differs from the others only in the
custom id and in the query and response inside the user message, so :class:`LineWriter`
renders the request once per field with marker strings in their place, encodes it with the
same encoder, and splits the line at the encoded markers; a line is then those fixed pieces
joined with the values JSON-escaped by the standard library's C string encoder
(``json.encoder.encode_basestring``). The line is the same, byte for byte, as encoding the
request (``tests/calibrate/test_batch.py`` checks it); requests with an inline image take
the plain route.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from json.encoder import encode_basestring
from typing import Any, Final, TextIO

from safecal.calibrate.judges.base import Case

URL: Final = "/v1/chat/completions"
PREFIX = "safecal-"
CONFIG_CHARS = 16
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
#: markers for the values that change from line to line (NUL cannot occur in a response:
#: the workspace's text comes through the one reader, and JSON escapes it as \u0000)
_ID, _QUERY, _RESPONSE = "\x00safecal-id\x00", "\x00safecal-query\x00", "\x00safecal-response\x00"
_SLOTS = {encode_basestring(m)[1:-1]: m for m in (_ID, _QUERY, _RESPONSE)}
_SPLIT = re.compile("(" + "|".join(re.escape(k) for k in _SLOTS) + ")")


def custom_id(config_key: str, input_key: str) -> str:
    return f"{PREFIX}{config_key[:CONFIG_CHARS]}-{input_key}"


def parse_custom_id(value: str) -> tuple[str, str] | None:
    """``(config key prefix, input key)`` of a custom id safecal wrote, else ``None``."""
    if not value.startswith(PREFIX):
        return None
    config, sep, key = value[len(PREFIX) :].partition("-")
    if not sep or len(config) != CONFIG_CHARS or len(key) != 64:
        return None
    return config, key


def request(judge: Any, cid: str, case: Case) -> dict[str, Any]:
    """One batch-input request (the plain route)."""
    return {"custom_id": cid, "method": "POST", "url": URL, "body": judge.request_body(case)}


class LineWriter:
    """Encodes requests as batch-input lines; see the module docstring."""

    def __init__(self, judge: Any) -> None:
        self.judge = judge
        self._pieces: dict[str, list[str] | None] = {}

    def _template(self, field: str) -> list[str] | None:
        if field not in self._pieces:
            probe = Case(response_id="", item_id="", field=field, query=_QUERY, response=_RESPONSE)
            parts = _SPLIT.split(_ENCODE(request(self.judge, _ID, probe)))
            # fixed pieces at even positions, marker names at odd ones
            slots = [_SLOTS[p] for p in parts[1::2]]
            self._pieces[field] = (
                [p if i % 2 == 0 else _SLOTS[p] for i, p in enumerate(parts)]
                if slots.count(_ID) == 1
                else None
            )
        return self._pieces[field]

    def line(self, cid: str, case: Case) -> str:
        """The JSON text of one request, without the newline."""
        pieces = None if (self.judge.vision and case.image) else self._template(case.field)
        if pieces is None:
            return _ENCODE(request(self.judge, cid, case))
        values = {_ID: cid, _QUERY: case.query, _RESPONSE: case.response}
        out = []
        for i, piece in enumerate(pieces):
            out.append(piece if i % 2 == 0 else encode_basestring(values[piece])[1:-1])
        return "".join(out)

    def write(self, fh: TextIO, items: Iterable[tuple[str, Case]]) -> Iterator[int]:
        """Write one line per ``(custom id, case)``; yields each line's size in bytes
        (newline included), so a caller can cut files at a size."""
        for cid, case in items:
            text = self.line(cid, case) + "\n"
            fh.write(text)
            yield len(text.encode("utf-8")) if not text.isascii() else len(text)
