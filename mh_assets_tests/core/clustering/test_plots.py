"""The k-selection figure: PNG bytes and self-contained HTML without patient data."""

import re

import numpy as np

from mh_assets.core.clustering import ClusterConfig, select_k
from mh_assets.core.clustering.plots import k_selection_html, k_selection_png


def selection():
    rng = np.random.default_rng(0)
    X = (np.eye(6)[np.repeat(np.arange(3), 30)] * 4 + rng.normal(size=(90, 6))).astype(np.float32)
    return select_k(X, ClusterConfig(min_k=2, max_k=4, n_bootstrap=3, sample_size=1.0))


def test_png_is_a_png():
    assert k_selection_png(selection(), "female").startswith(b"\x89PNG\r\n\x1a\n")


def test_html_is_self_contained_and_carries_no_patient_ids():
    html = k_selection_html(selection(), "male")
    assert "plotly" in html.lower() and "<div" in html
    assert not re.search(r"<script[^>]*src=[\"']?https?:", html)
    assert "patient" not in html.lower()
