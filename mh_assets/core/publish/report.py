"""The study report: one self-contained HTML file that opens offline.

Why self-contained: the report is what a reviewer or an auditor is handed, often
on a machine without network access, and an external request (a CDN script, a
web font, a remote image) would both break it offline and leak that it was
opened. So images are inlined as ``data:`` URIs, styles are inline, and the
optional interactive figures share one inlined copy of plotly.js.

The report renders what it is given: pass it *published* (suppressed) tables and
figures only. Every text and table cell is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from mh_assets.core.environment import provenance_text


@dataclass(frozen=True)
class ReportTable:
    """``number``: the catalog's ("S1"); None numbers it in reading order."""

    title: str
    frame: pl.DataFrame
    caption: str = ""
    number: str | None = None


@dataclass(frozen=True)
class ReportFigure:
    """A PNG, and optionally the plotly JSON (``RenderedFigure.spec``) of the same figure."""

    title: str
    png: bytes
    caption: str = ""
    spec: str | None = None
    number: str | None = None  # the catalog's ("7", "S1"); None: in reading order

    @classmethod
    def from_rendered(cls, figure: object, caption: str = "") -> ReportFigure:
        """From a ``figures.RenderedFigure`` (anything with title, png and spec)."""
        return cls(figure.title, figure.png, caption, getattr(figure, "spec", None))


ReportItem = str | ReportTable | ReportFigure  # a str is a paragraph of plain text


@dataclass(frozen=True)
class Section:
    title: str
    items: Sequence[ReportItem] = ()


@dataclass(frozen=True)
class ReportInput:
    """Everything the report shows, in order: leading sections (the findings), flow,
    sections, validity, trailing sections, provenance.

    ``cohort_flow``: any aggregate frame, typically (step, n) rows from "read" through
    each exclusion reason to "kept". ``provenance``: extract sha256, code version,
    git commit, checkpoint hashes, preset, settings, library versions, run ids --
    nested mappings are flattened to dotted keys. ``interactive`` embeds the plotly
    version of every figure that carries a ``spec`` (adds ~5 MB: plotly.js, once).
    """

    title: str = "Sex-specific diagnostic subtypes: study report"
    subtitle: str = ""
    leading: Sequence[Section] = ()  # before the cohort flow: the findings come first
    cohort_flow: pl.DataFrame | None = None
    sections: Sequence[Section] = ()
    validity: Section | None = None
    trailing: Sequence[Section] = ()  # after validity: the limitations
    provenance: Mapping[str, object] = field(default_factory=dict)
    interactive: bool = False


CSS = """
body{font-family:Georgia,'Times New Roman',serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#222;line-height:1.45}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{border-bottom:1px solid #999;margin-top:2.5rem}
h3{font-size:1.05rem;margin-bottom:.3rem}.subtitle{color:#555;margin-top:0}
nav ol{columns:2;font-size:.9rem}
table{border-collapse:collapse;font-size:.82rem;margin:.4rem 0 1rem;font-family:Arial,sans-serif}
th,td{border-top:1px solid #bbb;border-bottom:1px solid #bbb;padding:.2rem .5rem;text-align:left;
vertical-align:top}th{background:#f0f0f0}.num{text-align:right}
figure{margin:1rem 0 2rem}figure img{max-width:100%;height:auto}
figcaption,.caption{font-size:.85rem;color:#444}
details{margin-top:.4rem;font-size:.85rem}.plot{width:100%;height:32rem}
.provenance td:first-child{font-family:monospace;white-space:nowrap}
.provenance td{font-family:monospace;word-break:break-all}
@media print{body{max-width:none;margin:0}nav,details{display:none}
figure,table{page-break-inside:avoid}h2{page-break-after:avoid}}
"""


def build_report(report: ReportInput) -> str:
    """The whole HTML document as a string (no external URL in any src/href/url())."""
    sections: list[Section] = list(report.leading)
    if report.cohort_flow is not None:
        sections.append(Section("Cohort flow", [ReportTable(
            "Records read, excluded (per reason) and kept", report.cohort_flow)]))
    sections.extend(report.sections)
    if report.validity is not None:
        sections.append(report.validity)
    sections.extend(report.trailing)
    state = _State(interactive=report.interactive)
    body = [_section(i, s, state) for i, s in enumerate(sections, start=1)]
    provenance_id = len(sections) + 1
    body.append(_provenance(provenance_id, report.provenance))
    nav = "".join(
        f'<li><a href="#s{i}">{_e(s.title)}</a></li>' for i, s in enumerate(sections, start=1)
    ) + f'<li><a href="#s{provenance_id}">Provenance</a></li>'
    head_script = ""
    if state.plots:
        from plotly.offline import get_plotlyjs

        head_script = f"<script>{_script_safe(get_plotlyjs())}</script>"
    subtitle = f'<p class="subtitle">{_e(report.subtitle)}</p>' if report.subtitle else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{_e(report.title)}</title><style>{CSS}</style>{head_script}</head><body>"
        f"<header><h1>{_e(report.title)}</h1>{subtitle}</header>"
        f"<nav><h2>Contents</h2><ol>{nav}</ol></nav>"
        + "".join(body)
        + "<footer><p class=\"caption\">All tables and figures are aggregates with small-cell "
        "suppression; patient-level data stay in the restricted area.</p></footer>"
        + "</body></html>\n"
    )


@dataclass
class _State:
    interactive: bool
    plots: int = 0
    figures: int = 0
    tables: int = 0


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _script_safe(source: str) -> str:
    """Inline script text that cannot close its own <script> element early."""
    return source.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")


def _section(index: int, section: Section, state: _State) -> str:
    parts = [f'<section id="s{index}"><h2>{_e(section.title)}</h2>']
    for item in section.items:
        if isinstance(item, ReportTable):
            parts.append(_table(item, state))
        elif isinstance(item, ReportFigure):
            parts.append(_figure(item, state))
        else:
            parts.append(f"<p>{_e(item)}</p>")
    parts.append("</section>")
    return "".join(parts)


def _label(kind: str, number: str | None, counter: int) -> str:
    """"Table 3", or the catalog's "Supplementary Table S1" / "Figure 7"."""
    if number is None:
        return f"{kind} {counter}"
    return f"Supplementary {kind} {number}" if number.startswith("S") else f"{kind} {number}"


def _table(item: ReportTable, state: _State) -> str:
    if item.number is None:
        state.tables += 1
    frame = item.frame
    numeric = [_numeric_column(frame.get_column(c)) for c in frame.columns]
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    texts = [column_texts(frame.get_column(c)) for c in frame.columns]
    rows = "".join(
        "<tr>" + "".join(
            f'<td class="num">{_e(text)}</td>' if num else f"<td>{_e(text)}</td>"
            for text, num in zip(row, numeric, strict=True)
        ) + "</tr>"
        for row in zip(*texts, strict=True)
    ) if frame.width else ""
    caption = f'<p class="caption">{_e(item.caption)}</p>' if item.caption else ""
    return (
        f"<h3>{_label('Table', item.number, state.tables)}. {_e(item.title)}</h3>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{caption}"
    )


_NUMBER_TEXT = re.compile(r"^(?:[<>]?\s*-?\d[\d.,]*%?|\*|)$")


def _numeric_column(column: pl.Series) -> bool:
    """Right-align numbers, including the published string copies ("12.50", "<10", "*")."""
    if column.dtype.is_numeric():
        return True
    if column.dtype != pl.String:
        return False
    values = [v.strip() for v in column.drop_nulls().to_list()]
    return any(values) and all(_NUMBER_TEXT.match(v) for v in values)


def column_texts(column: pl.Series) -> list[str]:
    """A column's cells as the report shows them (HTML and Word alike): a float column at
    one number of decimals -- the most its values need at 4 significant digits, at most
    4 -- so 43.5 and 26 read 43.50 and 26.00 beside 22.81; other values as :func:`_cell`."""
    values = column.to_list()
    if not column.dtype.is_float():
        return [_cell(v) for v in values]
    places = max((_places(v) for v in values if v is not None and v == v), default=0)
    return ["" if v is None or v != v else f"{v:.{places}f}" for v in values]


def _places(value: float) -> int:
    text = f"{value:.4g}"
    if "e" in text:  # very large: no decimals; very small: the most shown
        return 0 if abs(value) >= 1 else 4
    return min(4, len(text.partition(".")[2]))


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if value != value else f"{value:.4g}"
    return str(value)


def _figure(item: ReportFigure, state: _State) -> str:
    if item.number is None:
        state.figures += 1
    data = base64.b64encode(item.png).decode("ascii")
    caption = f"<b>{_label('Figure', item.number, state.figures)}.</b> {_e(item.title)}"
    if item.caption:  # the title is a sentence of its own, not the caption's subject
        caption += f". {_e(item.caption)}"
    interactive = ""
    if state.interactive and item.spec:
        state.plots += 1
        div = f"plot{state.plots}"
        spec = json.loads(item.spec)
        # "<" only occurs inside JSON strings, where \u003c is the same character: no
        # "</script>" or "<!--" can reach the HTML parser.
        payload = json.dumps(
            {"data": spec.get("data", []), "layout": spec.get("layout", {})}, sort_keys=True
        ).replace("<", "\\u003c")
        interactive = (
            f'<details id="{div}-details"><summary>Interactive version</summary>'
            f'<div id="{div}" class="plot"></div></details><script>(function(){{'
            f"var s={payload};var d=document.getElementById('{div}-details');"
            "var drawn=false;d.addEventListener('toggle',function(){"
            f"if(d.open&&!drawn){{drawn=true;Plotly.newPlot('{div}',s.data,s.layout,"
            "{displaylogo:false,responsive:true});}});})();</script>"
        )
    return (
        f'<figure><img alt="{_e(item.title)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption>{interactive}</figure>"
    )


def flatten(mapping: Mapping[str, object], prefix: str = "") -> list[tuple[str, str]]:
    """Nested mappings to sorted (dotted key, text) pairs, each value as
    :func:`~mh_assets.core.environment.provenance_text` writes it."""
    pairs: list[tuple[str, str]] = []
    for key in sorted(mapping, key=str):
        value, name = mapping[key], f"{prefix}{key}"
        if isinstance(value, Mapping):
            pairs.extend(flatten(value, f"{name}."))
        else:
            pairs.append((name, provenance_text(value)))
    return pairs


def _provenance(index: int, provenance: Mapping[str, object]) -> str:
    rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in flatten(provenance))
    body = (
        f'<table class="provenance"><thead><tr><th>key</th><th>value</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>" if rows else "<p>No provenance was recorded.</p>"
    )
    return f'<section id="s{index}"><h2>Provenance</h2>{body}</section>'
