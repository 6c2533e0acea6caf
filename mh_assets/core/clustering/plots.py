"""The k-selection curves as a figure: 300 dpi PNG, SVG and plotly HTML (the HTML
loads the shared plotly.js beside it). Only per-k aggregates are drawn: no patient appears.

Four panels, mean +/- 1 sd over resamples per k: silhouette and macro-silhouette
(higher is better), Calinski-Harabasz (higher), Davies-Bouldin (lower); the chosen k is
marked, and the panel header states the rule that chose it.
"""

from __future__ import annotations

import plotly.graph_objects as go
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from plotly.subplots import make_subplots

from mh_assets.core.clustering.k_selection import KSelection
from mh_assets.core.publish.figures import (
    DOUBLE_COLUMN,
    PALETTE,
    RenderedFigure,
    figure_entry,
    render,
    styled,
)

PANELS = (
    ("silhouette", "Silhouette (cosine)", "higher is better"),
    ("macro_silhouette", "Macro-silhouette (cosine)", "higher is better"),
    ("calinski_harabasz", "Calinski–Harabasz index", "higher is better"),
    ("davies_bouldin", "Davies–Bouldin index", "lower is better"),
)
K_LABEL = "Number of clusters, k"


def stem(sex: str | None) -> str:
    return f"k_selection_{sex}" if sex else "k_selection"


def _title(selection: KSelection, sex: str | None) -> str:
    who = f"{sex.capitalize()}: " if sex else ""
    edge = ", at the edge of the range" if selection.at_edge else ""
    return (f"{who}k = {selection.chosen_k} chosen{edge} ({selection.n_resamples} resamples "
            f"of {selection.sample_size:,} patients)")


def _rule(selection: KSelection) -> str:
    return f"Rule: {selection.rule}"


@styled
def k_selection_figure(selection: KSelection, sex: str | None = None) -> RenderedFigure:
    """The four curves as a :class:`RenderedFigure` (``figures/k_selection_<sex>.*``)."""
    name = stem(sex)
    try:
        title = figure_entry(name).title
    except KeyError:
        title = "Choice of the number of clusters"
    table = selection.table
    ks = table["k"].to_list()
    figure = Figure(figsize=(DOUBLE_COLUMN, 4.6))
    axes = figure.subplots(2, 2, sharex=True)
    for ax, (metric, label, better) in zip(axes.flat, PANELS, strict=True):
        ax.errorbar(ks, table[f"{metric}_mean"].to_numpy(), yerr=table[f"{metric}_sd"].to_numpy(),
                    marker="o", markersize=3, capsize=2, color=PALETTE[0], linewidth=1,
                    elinewidth=0.7)
        ax.axvline(selection.chosen_k, color=PALETTE[1], linestyle="--", linewidth=0.9)
        ax.set_title(f"{label}, {better}", loc="left")
        ax.set_ylabel(label)
        ax.set_xticks(ks)
    for ax in axes[-1]:
        ax.set_xlabel(K_LABEL)
    figure.suptitle(f"{_title(selection, sex)}\n{_rule(selection)}", x=0.01, y=0.995,
                    ha="left", va="top", fontsize=8, linespacing=1.4)
    figure.legend(handles=[
        Line2D([], [], color=PALETTE[0], marker="o", markersize=3,
               label="mean ± 1 SD over resamples"),
        Line2D([], [], color=PALETTE[1], linestyle="--", label=f"chosen k = {selection.chosen_k}"),
    ], loc="lower center", ncol=2, bbox_to_anchor=(0.5, 0.0), frameon=False)
    figure.tight_layout(rect=(0, 0.05, 1, 0.92), h_pad=1.2)
    return render(name, title, _plotly(selection, sex, title), figure)


def _plotly(selection: KSelection, sex: str | None, title: str) -> go.Figure:
    table = selection.table
    ks = table["k"].to_list()
    figure = make_subplots(rows=2, cols=2,
                           subplot_titles=[f"{label}, {better}" for _, label, better in PANELS])
    for i, (metric, label, _) in enumerate(PANELS):
        figure.add_trace(
            go.Scatter(
                x=ks, y=table[f"{metric}_mean"].to_list(), mode="lines+markers", name=label,
                error_y={"type": "data", "array": table[f"{metric}_sd"].to_list(), "visible": True},
                hovertemplate="k=%{x}<br>mean=%{y:.4f}<extra></extra>",
            ),
            row=i // 2 + 1, col=i % 2 + 1,
        )
        figure.add_vline(x=selection.chosen_k, line_dash="dash", line_color="red",
                         row=i // 2 + 1, col=i % 2 + 1)
        figure.update_yaxes(title_text=label, row=i // 2 + 1, col=i % 2 + 1)
    figure.update_layout(title=f"{title}<br><sub>{_title(selection, sex)}. "
                               f"{_rule(selection)}</sub>",
                         showlegend=False, height=700, template="simple_white")
    figure.update_xaxes(dtick=1, title_text=K_LABEL, row=2)
    return figure


def k_selection_png(selection: KSelection, sex: str | None = None) -> bytes:
    """PNG bytes (300 dpi) of the four curves."""
    return k_selection_figure(selection, sex).png


def k_selection_html(selection: KSelection, sex: str | None = None) -> str:
    """The plotly page; it loads ``plotly.min.js`` from its own folder (see figures.PLOTLY_JS)."""
    return k_selection_figure(selection, sex).html
