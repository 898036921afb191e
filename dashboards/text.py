"""Text from models, people and files, put into the Markdown that Streamlit renders.

Streamlit renders Markdown (GitHub's flavour, plus its own directives, LaTeX and emoji codes)
in titles, subheaders, captions, alerts (``st.info`` / ``st.error`` ...), ``st.markdown``,
image captions and the labels of widgets, expanders, tabs and metrics. A judge name such as
``![x](http://host/p.png)`` interpolated there becomes an image the browser fetches from a URL
the input chose; ``[text](url)`` a link, ``:red[...]`` or ``$...$`` change what the reader
sees. Backslash-escaping the punctuation is not enough: GitHub-flavoured Markdown turns a
bare ``http://...``, ``www.`` or ``name@host.org`` into a link after the escapes are gone.
So every such value goes in as a code span (:func:`md_literal`): inside one, Markdown has no
constructs, autolinks and directives do not apply, and the text shows exactly as it is. HTML is
never rendered (no page uses ``unsafe_allow_html``); in a code span a tag is shown as text.

Plain text elsewhere needs nothing: ``st.text``, ``st.code``, ``st.dataframe`` cells and
headers, and the options of ``st.selectbox`` / ``st.multiselect`` show text as it is (a code
span there would show its backticks). ``st.radio`` options are Markdown. The package's own
vocabulary (field names, label scales, fixed messages) is not input and stays plain.
"""

from __future__ import annotations

import re

_LINE_ENDING = re.compile(r"\r\n|\r|\n")
_BACKTICKS = re.compile(r"`+")


def md_literal(value: object) -> str:
    """``str(value)`` as a Markdown code span that renders as exactly that text.

    Line endings become spaces (a line ending could start a new Markdown block, and inside a
    code span CommonMark shows it as a space anyway). The fence is one backtick longer than the
    longest run of backticks in the text, and the one space of padding on each side that
    CommonMark strips lets the text start or end with a backtick or a space. Empty text is
    ``""`` (an empty code span does not exist)."""
    text = _LINE_ENDING.sub(" ", str(value))
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = "" if not text.strip(" ") else " "  # text of spaces only is never stripped
    return f"{fence}{pad}{text}{pad}{fence}"


_UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_file_name(value: object) -> str:
    """``value`` for a download's file name: a model name such as ``org/model`` or one with
    path or shell characters becomes ``org_model``, never a path."""
    return _UNSAFE_IN_FILE_NAME.sub("_", str(value)).strip("._") or "unnamed"
