"""The pieces of an HTML report a reader takes in at a glance: tables that fit the page (cells wrap, and a table
still too wide scrolls inside its own box, never the page), a legend of the columns, code as code, figures with
captions. Text passed in is plain text with `code` in backticks, as in the markdown report."""
from __future__ import annotations

import html
import re

import pandas as pd

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1200px;margin:0 auto;padding:0 16px;
 line-height:1.45;color:#222}
h1{font-size:1.6em}h2{font-size:1.3em;margin-top:1.6em;border-bottom:1px solid #ddd}h3{font-size:1.1em}
.table-box{max-width:100%;overflow-x:auto;margin:.5em 0}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 6px;vertical-align:top;text-align:right}
th{background:#f3f3f3;font-weight:600;text-align:center}
th:first-child,td:first-child{text-align:left}
td.text{text-align:left}
.ci{display:block;color:#666;font-size:11px}
code,pre{font-family:ui-monospace,"SFMono-Regular",Menlo,monospace;font-size:12px;background:#f5f5f5}
code{padding:0 2px;overflow-wrap:anywhere}
pre{padding:6px 8px;white-space:pre-wrap;overflow-wrap:anywhere}
dl.legend{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;font-size:13px;margin:.4em 0}
dl.legend dt{font-weight:600}dl.legend dd{margin:0}
details{margin:.3em 0 1em}summary{cursor:pointer;font-size:13px;color:#444}
figure{margin:1em 0}figure img{max-width:100%;height:auto;display:block}
figcaption{font-size:13px;color:#444;margin-top:4px}
"""
_CODE = re.compile(r"`([^`]+)`")


def inline(text: str) -> str:
    """Plain text as HTML, its `backticked` spans as <code>."""
    return _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", html.escape(str(text)))


def pre(text: str) -> str:
    return f"<pre><code>{html.escape(text)}</code></pre>"


def _cell(value, code: bool) -> str:
    """A value 'x [low, high]' with its interval on a line of its own; a code column's value as <code>."""
    text = str(value)
    if code:
        return f'<td class="text"><code>{html.escape(text)}</code></td>'
    shown, bracket, interval = text.partition(" [")
    if bracket:
        return f'<td>{html.escape(shown)}<span class="ci">[{html.escape(interval)}</span></td>'
    return f"<td>{inline(text)}</td>"


def table(frame: pd.DataFrame, code_columns=()) -> str:
    """The frame as a table inside its own scroll box."""
    head = "".join(f"<th>{inline(c)}</th>" for c in frame.columns)
    rows = "".join("<tr>" + "".join(_cell(v, c in code_columns) for c, v in zip(frame.columns, row)) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f'<div class="table-box"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def legend(entries, summary: str = "What the columns mean") -> str:
    """(name, meaning) pairs as a definition list under a disclosure that starts open."""
    items = "".join(f"<dt>{inline(name)}</dt><dd>{inline(meaning)}</dd>" for name, meaning in entries)
    return f'<details open><summary>{html.escape(summary)}</summary><dl class="legend">{items}</dl></details>'


def figure(src: str, alt: str, caption: str) -> str:
    return (f'<figure><img src="{html.escape(src)}" alt="{html.escape(alt)}">'
            f"<figcaption>{inline(caption)}</figcaption></figure>")


def page(title: str, body: list[str]) -> str:
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n" + "\n".join(body)
            + "\n</body></html>\n")
