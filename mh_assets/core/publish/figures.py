"""Figures: an interactive plotly HTML and a static matplotlib PNG for each.

Why two renderings: the HTML is what a reader explores offline (plotly.js is
inlined, no CDN), the PNG is what a journal, the report and the Dagster UI show
(plotly's own PNG export needs kaleido and a browser download, unavailable here).

Every figure is drawn from aggregates (``tables.Descriptives`` or cluster-level
points), never from patient rows: box plots are drawn from precomputed quartiles
and fences (a plotly box of raw values would expose each outlier in its hover),
histograms from binned counts of values capped at the 99th percentile, and every
count of 1-9 -- plus any count that would reveal one from a published total --
is left undrawn (its hover, where there is one, says ``<10`` or ``*``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from matplotlib.figure import Figure as MplFigure
from plotly.subplots import make_subplots

from mh_assets.core.publish.descriptives import COST, SEVERITY, STAY, YEAR, Descriptives
from mh_assets.core.publish.suppression import (
    VISIBLE,
    ColumnMargin,
    RowMargin,
    suppress,
    suppression_footnote,
    suppression_status,
)
from mh_assets.core.schema import SEX, SEXES

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
SEX_COLOURS = {"female": "#D55E00", "male": "#0072B2"}
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
           "#000000", "#999999", "#882255", "#44AA99", "#117733")
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
PNG_DPI = 150


@dataclass(frozen=True)
class RenderedFigure:
    """One figure: ``html`` (standalone page), ``png`` bytes and ``spec`` (plotly JSON).

    ``spec`` lets the report embed the interactive figure with a single shared copy
    of plotly.js instead of one per figure.
    """

    name: str
    title: str
    html: str
    png: bytes
    spec: str


def render(
    name: str, title: str, plotly_figure: go.Figure, mpl_figure: MplFigure
) -> RenderedFigure:
    return RenderedFigure(
        name=name, title=title, html=plotly_html(plotly_figure, name),
        png=png_bytes(mpl_figure), spec=plotly_figure.to_json(),
    )


def plotly_html(figure: go.Figure, div_id: str) -> str:
    """A standalone page with plotly.js inlined; a fixed div id keeps the output reproducible."""
    return pio.to_html(
        figure, include_plotlyjs=True, full_html=True, div_id=div_id, config=PLOTLY_CONFIG,
        include_mathjax=False,
    )


def png_bytes(figure: MplFigure, dpi: int = PNG_DPI) -> bytes:
    """PNG bytes without the software/version text chunk, so reruns are byte-identical."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None},
                   bbox_inches="tight")
    return buffer.getvalue()


def _layout(figure: go.Figure, title: str, note: str = "", **kwargs: object) -> go.Figure:
    figure.update_layout(
        title=title, template="simple_white", legend_title_text="", margin={"b": 90},
        **kwargs,
    )
    if note:
        figure.add_annotation(text=note, xref="paper", yref="paper", x=0, y=-0.22,
                              showarrow=False, align="left", font={"size": 10})
    return figure


def _mpl(title: str, ncols: int = 1, note: str = "", width: float = 7.0) -> tuple[MplFigure, list]:
    figure = MplFigure(figsize=(width * (1 if ncols == 1 else 0.8 * ncols), 4.2))
    axes = [figure.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    figure.suptitle(title)
    if note:
        figure.text(0.01, -0.02, _wrap(note, 120), fontsize=7, va="top")
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
    return figure, axes


def _wrap(text: str, width: int) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if len(line) + len(word) + 1 > width and line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])


def _shown(values: Sequence[float | None], status: Sequence[int]) -> list[float | None]:
    """The plotted value of each cell: None (not drawn) when its count is hidden."""
    return [v if s == VISIBLE else None for v, s in zip(values, status, strict=True)]


# --------------------------------------------------------------------------- descriptive figures


def descriptive_figures(desc: Descriptives, min_cell: int = 10) -> dict[str, RenderedFigure]:
    """Figures 1-6 of the study, keyed by file stem (``figures/<key>.html|png``)."""
    figures = [
        sex_bars(desc.by_year, YEAR, "fig1_admissions_by_year", "Admissions per year by sex",
                 "Admissions", min_cell=min_cell),
        top_principal_bars(desc.top_principal, min_cell),
        box_by_sex(desc.continuous, STAY, "fig3_stay_boxplot",
                   "Length of stay by sex (days, capped at the 99th percentile)"),
        histogram_by_sex(desc.histograms, STAY, "fig4_stay_histogram",
                         "Length of stay by sex (days, capped at the 99th percentile)", min_cell),
        sex_bars(desc.by_severity, SEVERITY, "fig5_apr_severity", "APR severity level by sex",
                 "% of the sex's admissions", percent=True, min_cell=min_cell),
        cost_figure(desc, min_cell),
    ]
    return {f.name: f for f in figures}


def sex_bars(
    table: pl.DataFrame, key: str, name: str, title: str, y_label: str, *,
    percent: bool = False, min_cell: int = 10,
) -> RenderedFigure:
    """Grouped bars of a (key, female_n, female_pct, male_n, male_pct, total) table."""
    counts = ["female_n", "male_n", "total"]
    margins = dict(
        row_margins=[RowMargin("total", ("female_n", "male_n"))],
        column_margins=[ColumnMargin(c) for c in counts], min_cell=min_cell,
    )
    status = suppression_status(table, counts, **margins)
    shown = suppress(table, counts, pct_for={"female_pct": "female_n", "male_pct": "male_n"},
                     **margins)
    keys = [str(k) for k in table[key].to_list()]
    note = suppression_footnote(min_cell) + " Hidden values are not drawn."
    pfig = go.Figure()
    mfig, (ax,) = _mpl(title, note=note)
    width = 0.4
    for i, sex in enumerate(SEXES):
        value_col = f"{sex}_pct" if percent else f"{sex}_n"
        y = _shown(table[value_col].to_list(), status[f"{sex}_n"].to_list())
        label = shown[f"{sex}_pct" if percent else f"{sex}_n"].to_list()
        pfig.add_bar(x=keys, y=y, name=sex, marker_color=SEX_COLOURS[sex], customdata=label,
                     hovertemplate=f"{key} %{{x}}<br>{sex}: %{{customdata}}<extra></extra>")
        xs = np.arange(len(keys)) + (i - 0.5) * width
        ax.bar(xs, [np.nan if v is None else v for v in y], width, label=sex,
               color=SEX_COLOURS[sex])
    ax.set_xticks(np.arange(len(keys)), keys)
    ax.set_xlabel(key)
    ax.set_ylabel(y_label)
    ax.legend(frameon=False)
    _layout(pfig, title, note, barmode="group", xaxis_title=key, yaxis_title=y_label,
            xaxis_type="category")
    return render(name, title, pfig, mfig)


def top_principal_bars(top: pl.DataFrame, min_cell: int = 10) -> RenderedFigure:
    """Ten most frequent principal diagnoses per sex, as % of the sex's admissions."""
    name, title = "fig2_top_principal_diagnoses", "Most frequent principal diagnoses by sex"
    status = suppression_status(top, ["n"], min_cell=min_cell)["n"].to_list()
    shown = suppress(top, ["n"], pct_for={"pct": "n"}, min_cell=min_cell)
    note = suppression_footnote(min_cell) + " Hidden values are not drawn."
    pfig = make_subplots(rows=1, cols=2, subplot_titles=list(SEXES), horizontal_spacing=0.3)
    mfig, axes = _mpl(title, ncols=2, note=note)
    for col, (sex, ax) in enumerate(zip(SEXES, axes, strict=True), start=1):
        rows = [i for i, s in enumerate(top[SEX].to_list()) if s == sex][::-1]  # largest on top
        labels = [_diagnosis_label(top["code"][i], top["descriptor"][i]) for i in rows]
        pct = [top["pct"][i] if status[i] == VISIBLE else None for i in rows]
        hover = [f"{shown['n'][i]} ({shown['pct'][i]}%)" for i in rows]
        pfig.add_bar(x=pct, y=labels, orientation="h", marker_color=SEX_COLOURS[sex],
                     name=sex, customdata=hover, showlegend=False,
                     hovertemplate="%{y}<br>%{customdata}<extra></extra>", row=1, col=col)
        ax.barh(np.arange(len(rows)), [np.nan if v is None else v for v in pct],
                color=SEX_COLOURS[sex])
        ax.set_yticks(np.arange(len(rows)), labels, fontsize=7)
        ax.set_title(sex)
        ax.set_xlabel("% of the sex's admissions")
    mfig.subplots_adjust(wspace=0.9)  # room for the right panel's long y labels
    _layout(pfig, title, note)
    return render(name, title, pfig, mfig)


def _diagnosis_label(code: str, descriptor: str | None, width: int = 38) -> str:
    text = f"{code} {descriptor or ''}".strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def _boxes(continuous: pl.DataFrame, variable: str, min_cell: int = 10) -> list[dict]:
    rows = continuous.filter(pl.col("variable") == variable).sort(SEX)
    return [r for r in rows.iter_rows(named=True) if r["n"] >= min_cell]


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
        ax.bxp([{"label": b[SEX], "med": b["median"], "q1": b["q1"], "q3": b["q3"],
                 "whislo": b["lowerfence"], "whishi": b["upperfence"], "fliers": []}],
               positions=[position], showfliers=False, widths=0.5,
               boxprops={"color": colour}, whiskerprops={"color": colour},
               capprops={"color": colour}, medianprops={"color": colour, "linewidth": 2})
    ax.set_xlim(0.4, len(boxes) + 0.6)


BOX_NOTE = ("Boxes: quartiles; whiskers: 1.5 IQR, clipped to the 1st and the pooled 99th "
            "percentile. Individual values are not drawn.")


def box_by_sex(continuous: pl.DataFrame, variable: str, name: str, title: str,
               min_cell: int = 10) -> RenderedFigure:
    """Box plot from precomputed quartiles and fences (no data points)."""
    boxes = _boxes(continuous, variable, min_cell)
    pfig = go.Figure()
    mfig, (ax,) = _mpl(title, note=BOX_NOTE, width=5)
    _add_boxes(pfig, ax, boxes)
    ax.set_ylabel(variable)
    _layout(pfig, title, BOX_NOTE, yaxis_title=variable)
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
        traces.append({
            "sex": sex, "left": left, "width": right - left,
            "y": _shown(part["n"].to_list(), part["status"].to_list()),
            "hover": [f"{a:.6g} to {b:.6g}: {s}"
                      for a, b, s in zip(left, right, part["shown"].to_list(), strict=True)],
        })
    return traces


def _add_histograms(pfig: go.Figure, ax: object, traces: list[dict], **where: int) -> None:
    for t in traces:
        # plain lists, not numpy arrays: plotly would base64-encode arrays ("bdata"), and
        # the published JSON should stay readable (and checkable) as text
        centres = (t["left"] + t["width"] / 2).tolist()
        pfig.add_bar(x=centres, y=t["y"], width=t["width"].tolist(), name=t["sex"],
                     marker_color=SEX_COLOURS[t["sex"]], opacity=0.5, customdata=t["hover"],
                     hovertemplate=f"{t['sex']}<br>%{{customdata}}<extra></extra>", **where)
        edges = np.append(t["left"], t["left"][-1] + t["width"][-1]) if len(t["left"]) else [0]
        ax.stairs([np.nan if v is None else v for v in t["y"]], edges, fill=False,
                  color=SEX_COLOURS[t["sex"]], linewidth=1.6, label=t["sex"])


def histogram_by_sex(histograms: pl.DataFrame, variable: str, name: str, title: str,
                     min_cell: int = 10) -> RenderedFigure:
    """Overlaid histograms of capped values per sex; hidden bins not drawn."""
    traces = _histogram_traces(histograms, variable, min_cell)
    note = (suppression_footnote(min_cell) + " Hidden bins are not drawn; the last bin holds"
            " the values above the cap.")
    pfig = go.Figure()
    mfig, (ax,) = _mpl(title, note=note)
    _add_histograms(pfig, ax, traces)
    ax.set_xlabel(variable)
    ax.set_ylabel("Admissions")
    ax.legend(frameon=False)
    _layout(pfig, title, note, barmode="overlay", xaxis_title=variable, yaxis_title="Admissions")
    return render(name, title, pfig, mfig)


def cost_figure(desc: Descriptives, min_cell: int = 10) -> RenderedFigure:
    """APR cost by sex: box plot and histogram side by side, capped at the 99th percentile."""
    name, title = "fig6_apr_cost", "APR cost by sex (capped at the 99th percentile)"
    note = BOX_NOTE + " " + suppression_footnote(min_cell)
    pfig = make_subplots(rows=1, cols=2, column_widths=[0.35, 0.65])
    mfig, (box_ax, hist_ax) = _mpl(title, ncols=2, note=note)
    _add_boxes(pfig, box_ax, _boxes(desc.continuous, COST, min_cell), row=1, col=1)
    _add_histograms(pfig, hist_ax, _histogram_traces(desc.histograms, COST, min_cell), row=1, col=2)
    box_ax.set_ylabel(COST)
    hist_ax.set_xlabel(COST)
    hist_ax.set_ylabel("Admissions")
    hist_ax.legend(frameon=False)
    _layout(pfig, title, note, barmode="overlay")
    return render(name, title, pfig, mfig)


# --------------------------------------------------------------------------- cluster maps


def scatter_map(
    points: pl.DataFrame, title: str, *, name: str = "cluster_map",
    x_label: str = "component 1", y_label: str = "component 2", note: str = "",
) -> RenderedFigure:
    """A 2-D map of labelled points coloured by ``group``.

    ``points`` columns: ``x``, ``y`` (floats), ``label`` (text drawn beside the
    point, may be empty), ``group`` (colour), optional ``hover_text`` (the only
    text a hover shows; no hover without it) and ``size`` (marker area, e.g.
    cluster size). Feed it cluster-level aggregates: whatever is in these columns
    is published.
    """
    groups = sorted(set(points["group"].cast(pl.String).to_list()))
    colours = {g: SEX_COLOURS.get(g) or PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)}
    has_hover = "hover_text" in points.columns
    sizes = points["size"].cast(pl.Float64).to_numpy() if "size" in points.columns else None
    pfig = go.Figure()
    mfig, (ax,) = _mpl(title, note=note)
    for g in groups:
        mask = (points["group"].cast(pl.String) == g).to_numpy()
        part = points.filter(mask)
        marker = {"color": colours[g]}
        area = _areas(sizes, mask)
        if area is not None:
            marker.update(size=np.sqrt(area).tolist(), sizemode="diameter")
        pfig.add_scatter(
            x=part["x"].to_list(), y=part["y"].to_list(), mode="markers+text", name=g,
            text=part["label"].to_list(), textposition="top center", marker=marker,
            hovertext=part["hover_text"].to_list() if has_hover else None,
            hoverinfo="text" if has_hover else "skip",
        )
        ax.scatter(part["x"].to_numpy(), part["y"].to_numpy(), s=area if area is not None else 20,
                   color=colours[g], alpha=0.75, label=g)
        for x, y, label in part.select("x", "y", "label").iter_rows():
            if label:
                ax.annotate(str(label), (x, y), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
    ax.margins(0.12)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    if len(groups) <= 12:
        ax.legend(frameon=False, fontsize=7, markerscale=0.6)
    _layout(pfig, title, note, xaxis_title=x_label, yaxis_title=y_label)
    return render(name, title, pfig, mfig)


def _areas(sizes: np.ndarray | None, mask: np.ndarray) -> np.ndarray | None:
    """Marker areas scaled so the largest point is ~600 pt^2 and the smallest still visible."""
    if sizes is None or not np.isfinite(sizes).any() or np.nanmax(sizes) <= 0:
        return None
    return 30 + 570 * np.clip(sizes[mask], 0, None) / np.nanmax(sizes)
