"""Text from models, people and files, put into the Markdown that Streamlit renders.

Streamlit renders Markdown (plus its own directives, LaTeX and emoji codes) in titles,
subheaders, captions, alerts (``st.info`` / ``st.error`` ...), ``st.markdown``, image
captions and the labels of widgets, expanders, tabs and metrics. A judge name such as
``![x](http://host/p.png)`` interpolated there becomes an image the browser fetches from a
URL the input chose; ``[text](url)`` becomes a link and ``:red[...]`` or ``$...$`` change
what the reader sees. So every such value goes through :func:`escape_md` before it is
interpolated. HTML is never rendered (no page uses ``unsafe_allow_html``); escaping also
shows a tag as the text it is instead of dropping it.

Plain text elsewhere needs nothing: ``st.text``, ``st.code``, ``st.dataframe`` cells and
headers, and the options of ``st.selectbox`` / ``st.multiselect`` show text as it is (an
escape there would show its backslashes). ``st.radio`` options are Markdown.
"""

from __future__ import annotations

import re

# every ASCII punctuation character: CommonMark lets each be backslash-escaped, and an escaped
# character is always the literal character, so no Markdown construct, directive, LaTeX
# delimiter, HTML tag or entity survives
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def escape_md(value: object) -> str:
    """``str(value)`` as Markdown that renders as exactly that text."""
    return _PUNCTUATION.sub(r"\\\1", str(value))


_UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_file_name(value: object) -> str:
    """``value`` for a download's file name: a model name such as ``org/model`` or one with
    path or shell characters becomes ``org_model``, never a path."""
    return _UNSAFE_IN_FILE_NAME.sub("_", str(value)).strip("._") or "unnamed"
