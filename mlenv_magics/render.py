"""Text and HTML building blocks shared by every result object.

Plain functions over strings: no IPython, no widgets. A widget view (``gpu/widget.py``) is
only one more renderer of the same result objects.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

NA = "n/a"

STYLE = (
    "<style>.mlenv{font-family:var(--jp-ui-font-family,system-ui,sans-serif);font-size:13px}"
    ".mlenv table{border-collapse:collapse;margin:2px 0}"
    ".mlenv th{font-weight:600;color:var(--jp-ui-font-color1,#333)}"
    ".mlenv .mlenv-note{color:#8a4b00}.mlenv .mlenv-ok{color:#1a7f37}"
    ".mlenv .mlenv-bar{display:inline-block;width:120px;height:10px;background:#ddd;"
    "vertical-align:middle}.mlenv .mlenv-bar>span{display:block;height:100%;"
    "background:#3b82f6}</style>"
)


# Inline cell styles: frontends drop <style> from untrusted outputs, and nbconvert's own table
# rules right-align cells, so the alignment must travel with each cell.
_CELL = "text-align:left;vertical-align:top;padding:1px 12px 1px 0"


def th(inner_html: str) -> str:
    return f'<th style="{_CELL};white-space:nowrap">{inner_html}</th>'


def td(inner_html: str) -> str:
    return f'<td style="{_CELL}">{inner_html}</td>'


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def show(value: object) -> str:
    """A value for display: ``None`` (unknown) becomes ``n/a``, never 0."""
    return NA if value is None else str(value)


def text_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A left-aligned, space-padded table for ``text/plain``."""
    cells = [list(headers)] + [[show(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def key_values_text(pairs: Iterable[tuple[str, object]]) -> str:
    pairs = list(pairs)
    width = max((len(k) for k, _ in pairs), default=0)
    return "\n".join(f"{k.ljust(width)}  {show(v)}" for k, v in pairs)


def html_table(headers: Sequence[str] | None, rows: Iterable[Sequence[object]]) -> str:
    head = ""
    if headers:
        head = "<tr>" + "".join(th(esc(h)) for h in headers) + "</tr>"
    body = "".join("<tr>" + "".join(td(esc(show(v))) for v in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def key_values_html(pairs: Iterable[tuple[str, object]]) -> str:
    body = "".join(f"<tr>{th(esc(k))}{td(esc(show(v)))}</tr>" for k, v in pairs)
    return f"<table>{body}</table>"


def box(title: str, inner_html: str) -> str:
    return f'<div class="mlenv">{STYLE}<b>{esc(title)}</b>{inner_html}</div>'


def human_bytes(n: int | None) -> str:
    if n is None:
        return NA
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
