"""The k-selection figure: 300 dpi PNG, SVG, and a page loading the shared plotly.js, with
axis titles that say what is plotted and no patient data."""

import io
import json
import re

import numpy as np
from PIL import Image
from plotly.offline import get_plotlyjs

from mh_assets.core.clustering import ClusterConfig, select_k
from mh_assets.core.clustering.plots import (
    K_LABEL,
    k_selection_figure,
    k_selection_html,
    k_selection_png,
)
from mh_assets.core.publish.figures import PLOTLY_JS


def selection():
    rng = np.random.default_rng(0)
    X = (np.eye(6)[np.repeat(np.arange(3), 30)] * 4 + rng.normal(size=(90, 6))).astype(np.float32)
    return select_k(X, ClusterConfig(min_k=2, max_k=4, n_bootstrap=3, sample_size=1.0))


def test_png_is_printed_at_300_dpi_and_an_svg_comes_with_it():
    figure = k_selection_figure(selection(), "female")
    assert figure.name == "k_selection_female"
    assert k_selection_png(selection(), "female") == figure.png
    image = Image.open(io.BytesIO(figure.png))
    assert [round(d) for d in image.info["dpi"]] == [300, 300]
    assert image.size[0] >= 1800  # a double-column figure, not ~1000 px at 100 dpi
    assert b"<svg" in figure.svg and K_LABEL.encode() in figure.svg


def test_axes_say_what_is_plotted_and_the_chosen_k_is_marked():
    chosen = selection()
    figure = k_selection_figure(chosen, "male")
    layout = json.loads(figure.spec)["layout"]
    titles = [axis["title"]["text"] for key, axis in layout.items()
              if key.startswith(("xaxis", "yaxis")) and "title" in axis]
    assert K_LABEL in titles and "Silhouette (cosine)" in titles
    assert "Davies–Bouldin index" in titles
    assert f"chosen k = {chosen.chosen_k}" in figure.svg.decode()
    assert figure.title == "Choice of the number of clusters (male)"  # from the catalog


def test_html_loads_the_shared_plotly_js_and_carries_no_patient_ids():
    html = k_selection_html(selection(), "male")
    assert "<div" in html and f'src="{PLOTLY_JS}"' in html
    assert get_plotlyjs() not in html
    assert not re.search(r"<script[^>]*src=[\"']?https?:", html)
    assert "patient_id" not in html.lower()
