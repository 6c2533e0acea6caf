"""Figures for print and for the screen: PNG (300 dpi), SVG and plotly HTML for each.

Why three renderings: the PNG is what the report and the Dagster UI show and what a
journal takes as a bitmap, the SVG is the same drawing in vector form (text kept as
text, so an editor can restyle it; :func:`vector_bytes` also writes a PDF with embedded
fonts on demand -- not by default: embedding fonts costs more than the other formats
together), the HTML is what a reader explores offline. The HTML files load one shared
``plotly.min.js`` from their own folder (:data:`PLOTLY_JS`, written once beside them),
not 4.8 MB of plotly.js each; plotly's own PNG export needs kaleido and a browser
download, unavailable here, so the static files are matplotlib's.

Every figure is drawn from aggregates (``tables.Descriptives``, cluster profiles or a
sample of projected points with no label), never from patient rows: box plots come from
precomputed quartiles and fences (a plotly box of raw values would expose each outlier
in its hover), histograms from binned counts of values capped at the 99th percentile.
A count of 1-9 is drawn as a hatched bar to the bound (``min_cell``, or the share it
would be) labelled ``<10``: it is there, and its height says nothing about the count.
A count withheld so that a small one cannot be derived from a published total is
marked ``*`` at the baseline with no bar (it may be large: no height would be honest).

Axis titles are human names with units (:data:`LABELS`); titles and captions come from
:data:`~mh_assets.core.publish.catalog.FIGURES` (:func:`figure_entry`).
"""

from __future__ import annotations

import functools
import io
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure as MplFigure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.transforms import Bbox
from plotly.subplots import make_subplots

from mh_assets.core.publish.catalog import FIGURES, Entry
from mh_assets.core.publish.descriptives import COST, OTHER, SEVERITY, STAY, YEAR, Descriptives
from mh_assets.core.publish.suppression import (
    PRIMARY,
    SECONDARY_MARK,
    VISIBLE,
    ColumnMargin,
    RowMargin,
    primary_mark,
    suppress,
    suppression_footnote,
    suppression_status,
)
from mh_assets.core.schema import SEX, SEXES

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
SEX_COLOURS = {"female": "#D55E00", "male": "#0072B2"}
SEX_NAMES = {"female": "Female", "male": "Male"}
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
           "#000000", "#999999", "#882255", "#44AA99", "#117733")
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
#: Print resolution of every PNG; the UI's inline preview is smaller.
PNG_DPI = 300
PREVIEW_DPI = 80
#: The one plotly.js bundle every figure page loads, from the page's own folder
#: (``layout.figure(PLOTLY_JS_STEM, ".js")``; plotly's ``include_plotlyjs="directory"``).
PLOTLY_JS_STEM = "plotly.min"
PLOTLY_JS = f"{PLOTLY_JS_STEM}.js"
#: File suffixes of a figure (``RenderedFigure.files``).
FORMATS = (".html", ".png", ".svg")
HATCH = "/////"

#: Axis titles: what the variable is and its unit.
LABELS = {
    YEAR: "Year of discharge",
    STAY: "Length of stay (days)",
    COST: "APR cost (EUR)",
    SEVERITY: "APR severity of illness",
}
ADMISSIONS = "Admissions (n)"
SHARE = "Share of the sex's admissions (%)"
PREVALENCE = "Patients of the cluster with the code (%)"
SEVERITY_LEVELS = {"1": "1 Minor", "2": "2 Moderate", "3": "3 Major", "4": "4 Extreme"}

#: Journal style: 8 pt text, thin lines, text kept as text in SVG, fonts embedded in PDF,
#: and a fixed salt so SVG ids (hence bytes) repeat from run to run.
STYLE = {
    "font.family": "DejaVu Sans", "font.size": 8, "axes.titlesize": 8.5,
    "axes.labelsize": 8, "xtick.labelsize": 7.5, "ytick.labelsize": 7.5,
    "legend.fontsize": 7.5, "legend.frameon": False, "axes.linewidth": 0.6,
    "axes.spines.top": False, "axes.spines.right": False, "xtick.major.width": 0.6,
    "ytick.major.width": 0.6, "xtick.major.size": 3, "ytick.major.size": 3,
    "hatch.linewidth": 0.6, "lines.linewidth": 1.2, "svg.fonttype": "none",
    "svg.hashsalt": "mh-assets", "pdf.fonttype": 42,
}
DOUBLE_COLUMN, SINGLE_COLUMN = 7.0, 3.5  # inches


@dataclass(frozen=True)
class RenderedFigure:
    """One figure: ``html`` (a page loading :data:`PLOTLY_JS` beside it), ``png`` (300
    dpi), ``svg`` (vector), ``preview`` (a small PNG for the UI) and ``spec``
    (plotly JSON, so the report embeds the interactive figure with one shared copy of
    plotly.js)."""

    name: str
    title: str
    html: str
    png: bytes
    spec: str
    svg: bytes = b""
    preview: bytes = b""

    def files(self) -> dict[str, str | bytes]:
        """Suffix -> content of every file of the figure (:data:`FORMATS`)."""
        return {".html": self.html, ".png": self.png, ".svg": self.svg}


def figure_entry(stem: str) -> Entry:
    """The catalog entry of a published figure stem, ``{sex}`` filled in: a per-sex figure
    is numbered ``7 (female)`` and ``7 (male)``, as the report numbers it."""
    if stem in FIGURES:
        return FIGURES[stem]
    for sex in SEXES:
        pattern = stem.removesuffix(f"_{sex}") + "_{sex}"
        if stem.endswith(f"_{sex}") and pattern in FIGURES:
            entry = FIGURES[pattern]
            return Entry(f"{entry.number} ({sex})", entry.title.format(sex=sex),
                         entry.caption.format(sex=sex))
    raise KeyError(f"figure {stem!r} is not in the catalog (catalog.FIGURES)")


def styled(builder: Callable[..., RenderedFigure]) -> Callable[..., RenderedFigure]:
    """Run a figure builder under :data:`STYLE` (matplotlib reads it when drawing and saving)."""
    @functools.wraps(builder)
    def wrapper(*args: object, **kwargs: object) -> RenderedFigure:
        with matplotlib.rc_context(STYLE):
            return builder(*args, **kwargs)
    return wrapper


def render(
    name: str, title: str, plotly_figure: go.Figure, mpl_figure: MplFigure
) -> RenderedFigure:
    with matplotlib.rc_context(STYLE):
        box = tight_box(mpl_figure)  # measured once, not once per format
        png = png_bytes(mpl_figure, box=box)
        return RenderedFigure(
            name=name, title=title, html=plotly_html(plotly_figure, name), png=png,
            spec=plotly_figure.to_json(), svg=vector_bytes(mpl_figure, "svg", box),
            preview=downscaled(png, PREVIEW_DPI),
        )


def tight_box(figure: MplFigure, pad: float = 0.04) -> Bbox:
    """The figure's tight bounding box (inches) with ``pad`` around it, measured at the
    print resolution (hinted text is wider at 100 dpi than at 300: a box measured there
    would clip long labels)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure.set_dpi(PNG_DPI)
    renderer = FigureCanvasAgg(figure).get_renderer()
    return figure.get_tightbbox(renderer).padded(pad)


def plotly_html(figure: go.Figure, div_id: str) -> str:
    """A page that loads :data:`PLOTLY_JS` from its own folder (no network, one shared
    bundle); a fixed div id keeps the output reproducible."""
    return pio.to_html(
        figure, include_plotlyjs="directory", full_html=True, div_id=div_id,
        config=PLOTLY_CONFIG, include_mathjax=False,
    )


def plotly_js() -> str:
    """The content of :data:`PLOTLY_JS`: the installed plotly's bundle."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def png_bytes(figure: MplFigure, dpi: int = PNG_DPI, box: Bbox | str = "tight") -> bytes:
    """PNG bytes without the software/version text chunk, so reruns are byte-identical."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None},
                   bbox_inches=box, pad_inches=0.04)
    return buffer.getvalue()


def downscaled(png: bytes, dpi: int) -> bytes:
    """The 300 dpi PNG resampled to ``dpi`` and reduced to 256 colours: the UI's inline
    copy, a third the size of a full-colour one (cheaper than drawing the figure again)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        scale = dpi / PNG_DPI
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        small = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    palette = small.quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                             dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", dpi=(dpi, dpi), optimize=True)
    return buffer.getvalue()


def vector_bytes(figure: MplFigure, fmt: str, box: Bbox | str = "tight") -> bytes:
    """SVG or PDF bytes without creation dates, so reruns are byte-identical."""
    metadata = {"Date": None} if fmt == "svg" else {"CreationDate": None, "ModDate": None}
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=PNG_DPI, metadata=metadata, bbox_inches=box,
                   pad_inches=0.04)
    return buffer.getvalue()


def _layout(figure: go.Figure, title: str, note: str = "", **kwargs: object) -> go.Figure:
    lines = textwrap.wrap(note, 140)
    figure.update_layout(
        title=title, template="simple_white", legend_title_text="",
        margin={"b": 80 + 14 * len(lines)}, **kwargs,
    )
    if note:  # below the x-axis title, in the bottom margin sized for it
        figure.add_annotation(text="<br>".join(lines), xref="paper", yref="paper", x=0, y=0,
                              yshift=-62, yanchor="top", xanchor="left", showarrow=False,
                              align="left", font={"size": 10})
    return figure


def _wrap(text: str, width: int, sep: str = "\n") -> str:
    return sep.join(textwrap.wrap(text, width, break_on_hyphens=False)) or text


def _shown(values: Sequence[float | None], status: Sequence[int]) -> list[float | None]:
    """The plotted value of each cell: None when its count is hidden."""
    return [v if s == VISIBLE else None for v, s in zip(values, status, strict=True)]


# --------------------------------------------------------------------------- hidden bars


@dataclass(frozen=True)
class Bars:
    """One series of bars as drawn: a visible value as it is, a primary-hidden one at the
    bound ``upper`` (hatched, labelled ``<10``), a secondary-hidden one at 0 (``*``)."""

    heights: list[float]
    marks: list[str]  # "" visible, "<10" primary, "*" secondary
    hover: list[str]

    @classmethod
    def of(cls, values: Sequence[float | None], status: Sequence[int], upper: float,
           hover: Sequence[str], min_cell: int) -> Bars:
        small = primary_mark(min_cell)
        heights, marks = [], []
        for value, code in zip(values, status, strict=True):
            if code == VISIBLE:
                heights.append(float(value) if value is not None else 0.0)
                marks.append("")
            else:
                heights.append(float(upper) if code == PRIMARY else 0.0)
                marks.append(small if code == PRIMARY else SECONDARY_MARK)
        return cls(heights, marks, list(hover))


def _mpl_bars(ax: object, positions: Sequence[float], size: float | Sequence[float],
              bars: Bars, colour: str, *, horizontal: bool = False, label: str = "",
              align: str = "center", alpha: float = 1.0) -> None:
    """Visible bars filled; ``<10`` bars hatched to the bound; every hidden bar labelled."""
    pos = np.asarray(positions, dtype=float)
    sizes = np.broadcast_to(np.asarray(size, dtype=float), pos.shape)
    heights = np.asarray(bars.heights, dtype=float)
    visible = np.array([m == "" for m in bars.marks], dtype=bool)
    primary = np.array([m not in ("", SECONDARY_MARK) for m in bars.marks], dtype=bool)
    draw = ax.barh if horizontal else ax.bar
    extent = "height" if horizontal else "width"
    draw(pos[visible], heights[visible], **{extent: sizes[visible]}, color=colour, label=label,
         align=align, alpha=alpha, linewidth=0)
    if primary.any():
        draw(pos[primary], heights[primary], **{extent: sizes[primary]}, facecolor="white",
             edgecolor=colour, hatch=HATCH, linewidth=0.6, align=align)
    for p, w, h, mark in zip(pos, sizes, heights, bars.marks, strict=True):
        if not mark:
            continue
        centre = p + (w / 2 if align == "edge" else 0.0)
        if horizontal:
            ax.annotate(mark, (h, centre), xytext=(2, 0), textcoords="offset points",
                        ha="left", va="center", fontsize=6.5, color=colour)
        else:
            ax.annotate(mark, (centre, h), xytext=(0, 1.5), textcoords="offset points",
                        ha="center", va="bottom", fontsize=6.5, color=colour,
                        rotation=90 if mark != SECONDARY_MARK else 0)


def _hidden_legend(bars: Sequence[Bars], min_cell: int, percent: bool = False) -> list:
    """Legend entries for the hidden-bar conventions that occur in ``bars``."""
    handles = []
    if any(m not in ("", SECONDARY_MARK) for b in bars for m in b.marks):
        what = f"share of {min_cell}" if percent else str(min_cell)
        handles.append(Patch(facecolor="white", edgecolor="0.35", hatch=HATCH, linewidth=0.6,
                             label=f"{primary_mark(min_cell)}: 1 to {min_cell - 1} "
                                   f"(bar drawn to {what})"))
    if any(m == SECONDARY_MARK for b in bars for m in b.marks):
        handles.append(Patch(facecolor="none", edgecolor="none",
                             label=f"{SECONDARY_MARK}: withheld (would reveal a count "
                                   f"<{min_cell})"))
    return handles


def _plotly_bar_style(bars: Bars, colour: str) -> dict:
    """Marker and text of a plotly bar trace drawing ``bars`` the way :func:`_mpl_bars` does."""
    hidden = [m not in ("", SECONDARY_MARK) for m in bars.marks]
    return {
        "marker": {
            "color": ["white" if h else colour for h in hidden],
            "line": {"color": colour, "width": [1 if h else 0 for h in hidden]},
            "pattern": {"shape": ["/" if h else "" for h in hidden], "fgcolor": colour},
        },
        "text": bars.marks, "textposition": "outside", "cliponaxis": False,
        "textfont": {"color": colour, "size": 10},
    }


def _legend_top(ax: object, handles: list | None = None, ncol: int = 4) -> None:
    found, _ = ax.get_legend_handles_labels()
    handles = found + list(handles or [])
    if handles:
        ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.01), ncol=ncol,
                  borderaxespad=0, handlelength=1.4, columnspacing=1.2)


# --------------------------------------------------------------------------- descriptive figures


def descriptive_figures(desc: Descriptives, min_cell: int = 10) -> dict[str, RenderedFigure]:
    """Figures 1-6 of the study, keyed by file stem (``figures/<stem>.<suffix>``)."""
    figures = [
        sex_bars(desc.by_year, YEAR, "fig1_admissions_by_year", ADMISSIONS, min_cell=min_cell),
        top_principal_bars(desc.principal_top20, min_cell),
        box_by_sex(desc.continuous, STAY, "fig3_stay_boxplot", min_cell=min_cell),
        histogram_by_sex(desc.histograms, STAY, "fig4_stay_histogram", min_cell),
        sex_bars(desc.by_severity, SEVERITY, "fig5_apr_severity", SHARE, percent=True,
                 min_cell=min_cell, tick_labels=SEVERITY_LEVELS),
        cost_figure(desc, min_cell),
    ]
    return {f.name: f for f in figures}


def _title(name: str) -> str:
    """The catalog title of a figure stem (its stem, spaced, if it is not catalogued)."""
    try:
        return figure_entry(name).title
    except KeyError:
        return name.replace("_", " ")


@styled
def sex_bars(
    table: pl.DataFrame, key: str, name: str, y_label: str, *, title: str = "",
    percent: bool = False, min_cell: int = 10, tick_labels: dict[str, str] | None = None,
) -> RenderedFigure:
    """Grouped bars of a (key, female_n, female_pct, male_n, male_pct, total) table."""
    title = title or _title(name)
    counts = ["female_n", "male_n", "total"]
    margins = dict(
        row_margins=[RowMargin("total", ("female_n", "male_n"))],
        column_margins=[ColumnMargin(c) for c in counts], min_cell=min_cell,
    )
    status = suppression_status(table, counts, **margins)
    shown = suppress(table, counts, pct_for={"female_pct": "female_n", "male_pct": "male_n"},
                     **margins)
    keys = [str(k) for k in table[key].to_list()]
    ticks = [(tick_labels or {}).get(k, k) for k in keys]
    x_label = LABELS.get(key, key)
    note = suppression_footnote(min_cell) + (
        f" A count from 1 to {min_cell - 1} is drawn as a hatched bar to the bound.")
    pfig = go.Figure()
    mfig = MplFigure(figsize=(DOUBLE_COLUMN * 0.75, 3.0))
    ax = mfig.add_subplot()
    width = 0.4
    series = []
    for i, sex in enumerate(SEXES):
        value_col = f"{sex}_pct" if percent else f"{sex}_n"
        total = float(table[f"{sex}_n"].sum())
        upper = 100 * min_cell / total if percent and total else min_cell
        bars = Bars.of(table[value_col].to_list(), status[f"{sex}_n"].to_list(), upper,
                       shown[value_col].to_list(), min_cell)
        series.append(bars)
        pfig.add_bar(x=ticks, y=bars.heights, name=SEX_NAMES[sex], customdata=bars.hover,
                     hovertemplate=f"{x_label} %{{x}}<br>{SEX_NAMES[sex]}: %{{customdata}}"
                                   "<extra></extra>", **_plotly_bar_style(bars, SEX_COLOURS[sex]))
        _mpl_bars(ax, np.arange(len(keys)) + (i - 0.5) * width, width, bars, SEX_COLOURS[sex],
                  label=SEX_NAMES[sex])
    ax.set_xticks(np.arange(len(keys)), ticks)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.yaxis.set_major_locator(_ticks(6, integer=not percent))
    _legend_top(ax, _hidden_legend(series, min_cell, percent))
    _layout(pfig, title, note, barmode="group", xaxis_title=x_label, yaxis_title=y_label,
            xaxis_type="category")
    return render(name, title, pfig, mfig)


def _diagnosis_label(code: str, descriptor: str | None, width: int = 44, sep: str = "\n") -> str:
    """The code and its full descriptor, wrapped (never truncated)."""
    return _wrap(f"{code} {descriptor or ''}".strip(), width, sep)


@styled
def top_principal_bars(
    top20: pl.DataFrame, min_cell: int = 10, top_n: int = 10
) -> RenderedFigure:
    """The ``top_n`` most frequent principal diagnoses of both sexes together (one list,
    ranked on the pooled count), each sex as % of its admissions, on one shared axis.

    ``top20`` is ``Descriptives.principal_top20`` (code, descriptor, female_n, male_n,
    total; ranked rows and an ``other`` row, so each column sums to the sex's admissions);
    it is suppressed exactly as its published table is.
    """
    name = "fig2_top_principal_diagnoses"
    title = _title(name)
    counts = ["female_n", "male_n", "total"]
    margins = dict(
        row_margins=[RowMargin("total", ("female_n", "male_n"))],
        column_margins=[ColumnMargin(c) for c in counts], min_cell=min_cell,
    )
    status = suppression_status(top20, counts, **margins)
    shown = suppress(top20, counts, **margins)
    rows = [i for i, c in enumerate(top20["code"].to_list()) if c != OTHER][:top_n]
    codes, descriptors = top20["code"].to_list(), top20["descriptor"].to_list()
    mpl_labels = [_diagnosis_label(codes[i], descriptors[i]) for i in rows]
    web_labels = [_diagnosis_label(codes[i], descriptors[i], 60, "<br>") for i in rows]
    note = suppression_footnote(min_cell) + (
        f" A count from 1 to {min_cell - 1} is drawn as a hatched bar to the share {min_cell} "
        "would be. Diagnoses ranked on both sexes together.")
    lines = sum(label.count("\n") + 1 for label in mpl_labels)
    mfig = MplFigure(figsize=(DOUBLE_COLUMN, 0.9 + 0.2 * lines + 0.12 * len(rows)))
    ax = mfig.add_subplot()
    pfig = go.Figure()
    height = 0.38
    series = []
    for i, sex in enumerate(SEXES):
        column = f"{sex}_n"
        total = float(top20[column].sum())
        pct = [100 * top20[column][r] / total if total else 0.0 for r in rows]
        hover = [f"{shown[column][r]} ({pct[j]:.1f}%)" if status[column][r] == VISIBLE
                 else shown[column][r] for j, r in enumerate(rows)]
        bars = Bars.of(pct, [status[column][r] for r in rows],
                       100 * min_cell / total if total else 0.0, hover, min_cell)
        series.append(bars)
        _mpl_bars(ax, np.arange(len(rows)) + (i - 0.5) * height, height, bars,
                  SEX_COLOURS[sex], horizontal=True, label=SEX_NAMES[sex])
        pfig.add_bar(x=bars.heights, y=web_labels, orientation="h", name=SEX_NAMES[sex],
                     customdata=bars.hover,
                     hovertemplate=f"%{{y}}<br>{SEX_NAMES[sex]}: %{{customdata}}<extra></extra>",
                     **_plotly_bar_style(bars, SEX_COLOURS[sex]))
    ax.set_yticks(np.arange(len(rows)), mpl_labels)
    ax.tick_params(axis="y", length=0)
    ax.invert_yaxis()  # the most frequent on top
    ax.set_ylim(len(rows) - 0.45, -0.55)
    ax.set_xlabel(SHARE)
    ax.xaxis.set_major_locator(_ticks(6))
    _legend_top(ax, _hidden_legend(series, min_cell, percent=True))
    _layout(pfig, title, note, barmode="group", xaxis_title=SHARE,
            yaxis={"autorange": "reversed", "categoryorder": "array",
                   "categoryarray": web_labels, "automargin": True},
            height=220 + 45 * len(rows))
    return render(name, title, pfig, mfig)


def _boxes(continuous: pl.DataFrame, variable: str, min_cell: int = 10) -> list[dict]:
    rows = continuous.filter(pl.col("variable") == variable).sort(SEX)
    return [r for r in rows.iter_rows(named=True) if r["n"] >= min_cell]


def _box_name(box: dict) -> str:
    return f"{SEX_NAMES[box[SEX]]}\n(n = {box['n']:,})"


def _add_boxes(pfig: go.Figure, ax: object, boxes: list[dict], **where: int) -> None:
    for box in boxes:
        sex = box[SEX]
        pfig.add_trace(go.Box(
            name=sex, x=[sex], q1=[box["q1"]], median=[box["median"]], q3=[box["q3"]],
            lowerfence=[box["lowerfence"]], upperfence=[box["upperfence"]],
            boxpoints=False, marker_color=SEX_COLOURS[sex], showlegend=False,
        ), **where)
    for position, b in enumerate(boxes, start=1):
        colour = SEX_COLOURS[b[SEX]]
        ax.bxp([{"label": _box_name(b), "med": b["median"], "q1": b["q1"], "q3": b["q3"],
                 "whislo": b["lowerfence"], "whishi": b["upperfence"], "fliers": []}],
               positions=[position], showfliers=False, widths=0.5, patch_artist=True,
               boxprops={"facecolor": colour + "33", "edgecolor": colour, "linewidth": 0.9},
               whiskerprops={"color": colour, "linewidth": 0.9},
               capprops={"color": colour, "linewidth": 0.9},
               medianprops={"color": colour, "linewidth": 1.8})
    ax.set_xlim(0.4, len(boxes) + 0.6)


BOX_NOTE = ("Boxes: quartiles; whiskers: 1.5 IQR, clipped to the 1st and the pooled 99th "
            "percentile. Individual values are not drawn.")


def _ticks(nbins: int, integer: bool = False) -> MaxNLocator:
    """Round tick steps (1, 2, 5 times a power of ten)."""
    return MaxNLocator(nbins=nbins, steps=[1, 2, 5, 10], integer=integer)


def _thousands(ax_axis: object) -> None:
    ax_axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


@styled
def box_by_sex(continuous: pl.DataFrame, variable: str, name: str, title: str = "",
               min_cell: int = 10) -> RenderedFigure:
    """Box plot from precomputed quartiles and fences (no data points)."""
    title = title or _title(name)
    label = LABELS.get(variable, variable)
    boxes = _boxes(continuous, variable, min_cell)
    pfig = go.Figure()
    mfig = MplFigure(figsize=(SINGLE_COLUMN, 3.0))
    ax = mfig.add_subplot()
    _add_boxes(pfig, ax, boxes)
    ax.set_ylabel(label)
    if variable == COST:
        _thousands(ax.yaxis)
    _layout(pfig, title, BOX_NOTE, yaxis_title=label)
    return render(name, title, pfig, mfig)


def _histogram_traces(histograms: pl.DataFrame, variable: str, min_cell: int) -> list[dict]:
    bins = histograms.filter(pl.col("variable") == variable)
    margin = [ColumnMargin("n", by=(SEX,))]  # the admissions per sex are published
    status = suppression_status(bins, ["n"], column_margins=margin, min_cell=min_cell)["n"]
    shown = suppress(bins, ["n"], column_margins=margin, min_cell=min_cell)["n"]
    bins = bins.with_columns(status=status, shown=shown)
    traces = []
    for sex in SEXES:
        part = bins.filter(pl.col(SEX) == sex)
        left, right = part["left"].to_numpy(), part["right"].to_numpy()
        hover = [f"{a:,.6g} to {b:,.6g}: {s}"
                 for a, b, s in zip(left, right, part["shown"].to_list(), strict=True)]
        traces.append({
            "sex": sex, "left": left, "width": right - left,
            "bars": Bars.of(part["n"].to_list(), part["status"].to_list(), min_cell, hover,
                            min_cell),
        })
    return traces


def _add_histograms(pfig: go.Figure, axes: Sequence[object], traces: list[dict],
                    variable: str, min_cell: int, col: int = 1) -> None:
    """One panel per sex (shared axes), so a hidden bin of one sex never hides the other's."""
    for row, (t, ax) in enumerate(zip(traces, axes, strict=True), start=1):
        bars, colour = t["bars"], SEX_COLOURS[t["sex"]]
        # plain lists, not numpy arrays: plotly would base64-encode arrays ("bdata"), and
        # the published JSON should stay readable (and checkable) as text
        centres = (t["left"] + t["width"] / 2).tolist()
        pfig.add_bar(x=centres, y=bars.heights, width=t["width"].tolist(),
                     name=SEX_NAMES[t["sex"]], customdata=bars.hover,
                     hovertemplate=f"{SEX_NAMES[t['sex']]}<br>%{{customdata}}<extra></extra>",
                     **_plotly_bar_style(bars, colour), row=row, col=col)
        _mpl_bars(ax, t["left"], t["width"], bars, colour, align="edge", alpha=0.85)
        ax.text(0.99, 0.92, SEX_NAMES[t["sex"]], transform=ax.transAxes, ha="right",
                va="top", color=colour, fontweight="bold")
        ax.set_ylabel(ADMISSIONS)
        ax.yaxis.set_major_locator(_ticks(4, integer=True))
    axes[-1].set_xlabel(LABELS.get(variable, variable))
    if variable == COST:
        _thousands(axes[-1].xaxis)
    handles = _hidden_legend([t["bars"] for t in traces], min_cell)
    if handles:
        axes[0].legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.01), ncol=2,
                       borderaxespad=0, handlelength=1.4)


def _histogram_axes(mfig: MplFigure, spec: object) -> list:
    grid = spec.subgridspec(len(SEXES), 1, hspace=0.12)
    first = mfig.add_subplot(grid[0])
    axes = [first] + [mfig.add_subplot(grid[i], sharex=first, sharey=first)
                      for i in range(1, len(SEXES))]
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    return axes


HIST_NOTE = " Values are capped at the pooled 99th percentile; the last bin holds those above."


@styled
def histogram_by_sex(histograms: pl.DataFrame, variable: str, name: str,
                     min_cell: int = 10, title: str = "") -> RenderedFigure:
    """Histograms of capped values, one panel per sex on shared axes; a bin of 1 to 9
    drawn hatched to ``min_cell`` and labelled ``<10``."""
    title = title or _title(name)
    traces = _histogram_traces(histograms, variable, min_cell)
    note = suppression_footnote(min_cell) + HIST_NOTE
    pfig = make_subplots(rows=len(SEXES), cols=1, shared_xaxes=True, shared_yaxes=True,
                         vertical_spacing=0.06)
    mfig = MplFigure(figsize=(DOUBLE_COLUMN * 0.75, 3.6))
    axes = _histogram_axes(mfig, mfig.add_gridspec(1, 1)[0])
    _add_histograms(pfig, axes, traces, variable, min_cell)
    label = LABELS.get(variable, variable)
    _layout(pfig, title, note, bargap=0)
    pfig.update_xaxes(title_text=label, row=len(SEXES), col=1)
    pfig.update_yaxes(title_text=ADMISSIONS)
    return render(name, title, pfig, mfig)


@styled
def cost_figure(desc: Descriptives, min_cell: int = 10) -> RenderedFigure:
    """APR cost by sex: box plot and per-sex histograms side by side, capped at the p99."""
    name = "fig6_apr_cost"
    title = _title(name)
    note = BOX_NOTE + " " + suppression_footnote(min_cell) + HIST_NOTE
    pfig = make_subplots(rows=len(SEXES), cols=2, column_widths=[0.35, 0.65],
                         specs=[[{"rowspan": len(SEXES)}, {}], *[[None, {}]] * (len(SEXES) - 1)],
                         shared_xaxes=False, vertical_spacing=0.06)
    mfig = MplFigure(figsize=(DOUBLE_COLUMN, 3.6))
    grid = mfig.add_gridspec(1, 2, width_ratios=[1, 2], wspace=0.3)
    box_ax = mfig.add_subplot(grid[0])
    hist_axes = _histogram_axes(mfig, grid[1])
    boxes = _boxes(desc.continuous, COST, min_cell)
    _add_boxes(pfig, box_ax, boxes, row=1, col=1)
    box_ax.set_ylabel(LABELS[COST])
    _thousands(box_ax.yaxis)
    _add_histograms(pfig, hist_axes, _histogram_traces(desc.histograms, COST, min_cell), COST,
                    min_cell, col=2)
    _layout(pfig, title, note, bargap=0)
    pfig.update_yaxes(title_text=LABELS[COST], row=1, col=1)
    pfig.update_xaxes(title_text=LABELS[COST], row=len(SEXES), col=2)
    for row in range(1, len(SEXES) + 1):
        pfig.update_yaxes(title_text=ADMISSIONS, row=row, col=2)
    return render(name, title, pfig, mfig)


# --------------------------------------------------------------------------- cluster figures


@styled
def prevalence_heatmap(
    cells: pl.DataFrame, name: str, title: str = "", *, panel: str = ""
) -> RenderedFigure:
    """Clusters x top codes: the share of each cluster's patients with each code (%).

    ``cells`` is :func:`mh_assets.core.publish.maps.prevalence_cells`: one row per (code,
    cluster) with code_label, cluster_label, size_text, prevalence (%, null where hidden)
    and mark ("" shown, "<10" or "*" hidden). A hidden cell is grey, hatched and labelled
    with its mark; no hidden prevalence is drawn, printed or hovered.
    """
    title = title or _title(name)
    rows = cells.select("row", "code_label").unique(maintain_order=True).sort("row")
    columns = cells.select("cluster", "cluster_label", "size_text").unique(
        maintain_order=True).sort("cluster")
    n_rows, n_cols = rows.height, columns.height
    r_index = {r: i for i, r in enumerate(rows["row"].to_list())}
    c_index = {c: j for j, c in enumerate(columns["cluster"].to_list())}
    values = np.full((n_rows, n_cols), np.nan)
    marks = np.full((n_rows, n_cols), "", dtype=object)
    for r, c, v, m in cells.select("row", "cluster", "prevalence", "mark").iter_rows():
        i, j = r_index[r], c_index[c]
        marks[i, j] = m
        if not m and v is not None:
            values[i, j] = v
    mpl_rows = [_wrap(t, 52) for t in rows["code_label"].to_list()]
    web_rows = [_wrap(t, 60, "<br>") for t in rows["code_label"].to_list()]
    heads = [f"{c}\nn = {s}" for c, s in columns.select("cluster_label", "size_text").iter_rows()]
    lines = sum(t.count("\n") + 1 for t in mpl_rows)
    mfig = MplFigure(figsize=(DOUBLE_COLUMN, 1.1 + 0.155 * lines + 0.08 * n_rows))
    ax = mfig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(values), cmap="Blues", vmin=0, vmax=100,
                      aspect="auto", interpolation="nearest")
    hidden = [Rectangle((j - 0.5, i - 0.5), 1, 1) for i in range(n_rows) for j in range(n_cols)
              if marks[i, j]]
    if hidden:  # one collection: one hatch pass, not one per cell
        ax.add_collection(PatchCollection(hidden, facecolor="0.93", edgecolor="0.7",
                                          hatch="////", linewidth=0))
    for i in range(n_rows):
        for j in range(n_cols):
            mark = marks[i, j]
            if mark:
                ax.text(j, i, mark, ha="center", va="center", fontsize=6.5, color="0.3")
            else:
                v = values[i, j]
                # with its % sign: a bare "7" beside "<10" cells would read as a count
                ax.text(j, i, f"{v:.0f}%", ha="center", va="center", fontsize=6.5,
                        color="white" if v >= 60 else "0.1")
    ax.set_xticks(np.arange(n_cols), heads)
    ax.set_yticks(np.arange(n_rows), mpl_rows)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    ax.set_xticks(np.arange(n_cols + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(n_rows + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=1.0)
    ax.tick_params(which="minor", length=0)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    if panel:
        ax.set_title(panel, loc="left", fontweight="bold", pad=4)
    bar = mfig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, aspect=30)
    bar.set_label(PREVALENCE)
    bar.outline.set_linewidth(0.4)
    text = [[marks[i, j] or f"{values[i, j]:.0f}%" for j in range(n_cols)] for i in range(n_rows)]
    web_heads = [h.replace("\n", "<br>") for h in heads]
    shown_z = [[None if marks[i, j] else float(values[i, j]) for j in range(n_cols)]
               for i in range(n_rows)]
    hidden_z = [[1.0 if marks[i, j] else None for j in range(n_cols)] for i in range(n_rows)]
    pfig = go.Figure()
    shown_text = [["" if marks[i, j] else t for j, t in enumerate(row)]
                  for i, row in enumerate(text)]
    hidden_text = [[t if marks[i, j] else "" for j, t in enumerate(row)]
                   for i, row in enumerate(text)]
    pfig.add_heatmap(z=shown_z, x=web_heads, y=web_rows, colorscale="Blues", zmin=0,
                     zmax=100, text=shown_text, texttemplate="%{text}", xgap=1, ygap=1,
                     colorbar={"title": {"text": PREVALENCE, "side": "right"}},
                     hovertemplate="%{y}<br>%{x}: %{text}<extra></extra>")
    pfig.add_heatmap(z=hidden_z, x=web_heads, y=web_rows, showscale=False, xgap=1, ygap=1,
                     colorscale=[[0, "#e5e5e5"], [1, "#e5e5e5"]], text=hidden_text,
                     texttemplate="%{text}", hovertemplate="%{y}<br>%{x}: %{text}<extra></extra>")
    note = (f"{PREVALENCE}. Grey cells are hidden: \"<10\" for 1 to 9 patients; \"*\" "
            "withheld so that such a count cannot be derived from the code's published "
            "total, or in a cluster whose size is withheld.")
    _layout(pfig, title, note, xaxis={"side": "top"},
            yaxis={"autorange": "reversed", "automargin": True},
            height=260 + 34 * n_rows)
    return render(name, title, pfig, mfig)


@styled
def scatter_map(
    points: pl.DataFrame, title: str, *, name: str = "cluster_map",
    x_label: str = "Component 1", y_label: str = "Component 2", note: str = "",
    panel: str = "",
) -> RenderedFigure:
    """A 2-D map of points coloured by ``group``, with no text beside any point.

    ``points`` columns: ``x``, ``y`` (floats), ``group`` (colour and legend), optional
    ``hover_text`` (the only text a hover shows; no hover without it) and ``size``
    (marker area, e.g. cluster size); any other column (``label``) is ignored. Feed it
    aggregates or unlabelled samples: whatever is in these columns is published.
    """
    groups = sorted(set(points["group"].cast(pl.String).to_list()))
    colours = {g: SEX_COLOURS.get(g) or PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)}
    has_hover = "hover_text" in points.columns
    sizes = points["size"].cast(pl.Float64).to_numpy() if "size" in points.columns else None
    pfig = go.Figure()
    mfig = MplFigure(figsize=(4.6, 3.6))
    ax = mfig.add_subplot()
    for g in groups:
        mask = (points["group"].cast(pl.String) == g).to_numpy()
        part = points.filter(mask)
        marker = {"color": colours[g]}
        area = _areas(sizes, mask)
        if area is not None:
            marker.update(size=np.sqrt(area).tolist(), sizemode="diameter")
        else:
            marker.update(size=4)
        pfig.add_scatter(
            x=part["x"].to_list(), y=part["y"].to_list(), mode="markers", name=g,
            marker=marker, hovertext=part["hover_text"].to_list() if has_hover else None,
            hoverinfo="text" if has_hover else "skip",
        )
        ax.scatter(part["x"].to_numpy(), part["y"].to_numpy(),
                   s=area if area is not None else 3, color=colours[g], alpha=0.6,
                   linewidths=0, label=g, rasterized=True)
    ax.margins(0.05)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_xticks([])
    ax.set_yticks([])
    if panel:
        ax.set_title(panel, loc="left", fontweight="bold")
    if len(groups) <= 12:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0,
                  markerscale=2.5 if sizes is None else 0.5, handletextpad=0.3)
    _layout(pfig, title, note, xaxis_title=x_label, yaxis_title=y_label)
    return render(name, title, pfig, mfig)


def _areas(sizes: np.ndarray | None, mask: np.ndarray) -> np.ndarray | None:
    """Marker areas scaled so the largest point is ~600 pt^2 and the smallest still visible."""
    if sizes is None or not np.isfinite(sizes).any() or np.nanmax(sizes) <= 0:
        return None
    return 30 + 570 * np.clip(sizes[mask], 0, None) / np.nanmax(sizes)
