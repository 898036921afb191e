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
same encoder, and turns the line into a ``%``-format with a ``%s`` at each encoded marker; a
line is then that format filled with the values JSON-escaped by the standard library's C
string encoder (``json.encoder.encode_basestring``). The custom id comes first in every line
(:data:`KEY_AT` is where its input key starts), which lets an export drop lines by key
without parsing them. The line is the same, byte for byte, as encoding the
request (``tests/calibrate/test_batch.py`` checks it); requests with an inline image take
the plain route.
"""

from __future__ import annotations

import json
import re
from json.encoder import encode_basestring
from typing import Any, Final

from safecal.calibrate.judges.base import Case

URL: Final = "/v1/chat/completions"
PREFIX = "safecal-"
CONFIG_CHARS = 16
#: where the input key starts in a line (``{"custom_id":"safecal-<16 hex>-``)
KEY_AT = len('{"custom_id":"') + len(PREFIX) + CONFIG_CHARS + 1
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
        #: field -> (``%``-format of the line with a ``%s`` per marker, the markers in order)
        self._formats: dict[str, tuple[str, tuple[str, ...]] | None] = {}

    def _format(self, field: str) -> tuple[str, tuple[str, ...]] | None:
        if field not in self._formats:
            probe = Case(response_id="", item_id="", field=field, query=_QUERY, response=_RESPONSE)
            parts = _SPLIT.split(_ENCODE(request(self.judge, _ID, probe)))
            fixed, slots = parts[0::2], tuple(_SLOTS[p] for p in parts[1::2])
            fmt = "%s".join(p.replace("%", "%%") for p in fixed)
            self._formats[field] = (fmt, slots) if _ID in slots else None
        return self._formats[field]

    def line(self, cid: str, case: Case) -> str:
        """The JSON text of one request, without the newline."""
        known = None if (self.judge.vision and case.image) else self._format(case.field)
        if known is None:
            return _ENCODE(request(self.judge, cid, case))
        fmt, slots = known
        values = {_ID: cid, _QUERY: case.query, _RESPONSE: case.response}
        return fmt % tuple(encode_basestring(values[slot])[1:-1] for slot in slots)
