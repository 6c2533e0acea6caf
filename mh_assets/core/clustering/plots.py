"""The k-selection curves, as a PNG (for Dagster metadata) and self-contained plotly
HTML (for the artifacts tree). Only per-k aggregates are drawn: no patient appears.

Four panels, mean +/- 1 sd over resamples per k: silhouette and macro-silhouette
(higher is better), Calinski-Harabasz (higher), Davies-Bouldin (lower); the chosen k is
marked, and the title states the rule that chose it.
"""

from __future__ import annotations

import io

import plotly.graph_objects as go
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from plotly.subplots import make_subplots

from mh_assets.core.clustering.k_selection import KSelection

PANELS = (
    ("silhouette", "Silhouette (cosine) ↑"),
    ("macro_silhouette", "Macro-silhouette ↑"),
    ("calinski_harabasz", "Calinski–Harabasz ↑"),
    ("davies_bouldin", "Davies–Bouldin ↓"),
)


def _title(selection: KSelection, sex: str | None) -> str:
    who = f"{sex}: " if sex else ""
    edge = " — at the edge of the range" if selection.at_edge else ""
    return (f"{who}k = {selection.chosen_k} ({selection.rule}); "
            f"{selection.n_resamples} resamples of {selection.sample_size}{edge}")


def k_selection_png(selection: KSelection, sex: str | None = None) -> bytes:
    """PNG bytes of the four curves (matplotlib, no global pyplot state)."""
    figure = Figure(figsize=(10, 7), dpi=100)
    FigureCanvasAgg(figure)
    table = selection.table
    ks = table["k"].to_list()
    for i, (metric, label) in enumerate(PANELS):
        ax = figure.add_subplot(2, 2, i + 1)
        mean = table[f"{metric}_mean"].to_numpy()
        sd = table[f"{metric}_sd"].to_numpy()
        ax.errorbar(ks, mean, yerr=sd, marker="o", capsize=3)
        ax.axvline(selection.chosen_k, color="tab:red", linestyle="--", linewidth=1)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("k")
        ax.set_xticks(ks)
    figure.suptitle(_title(selection, sex), fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def k_selection_html(selection: KSelection, sex: str | None = None) -> str:
    """A self-contained HTML page (plotly.js inlined: no network needed to view it)."""
    table = selection.table
    ks = table["k"].to_list()
    figure = make_subplots(rows=2, cols=2, subplot_titles=[label for _, label in PANELS])
    for i, (metric, label) in enumerate(PANELS):
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
    figure.update_layout(title=_title(selection, sex), showlegend=False, height=700)
    figure.update_xaxes(dtick=1, title_text="k")
    return figure.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False})
