"""Publishing figures: every format written, one plotly.js shared by every page."""

from __future__ import annotations

import re

import polars as pl
from plotly.offline import get_plotlyjs

from mh_assets.core import layout
from mh_assets.core.publish import figures
from mh_assets.core.storage import ArtifactStore
from mh_assets.defs.metadata import publish_figures

SCRIPT_SRC = re.compile(r"<script[^>]*\ssrc=\"([^\"]+)\"")


def _figure(name: str) -> figures.RenderedFigure:
    points = pl.DataFrame({"x": [0.0, 1.0], "y": [1.0, 0.0], "group": ["F1", "F2"]})
    return figures.scatter_map(points, name, name=name)


def test_html_pages_share_one_plotly_js_written_once_beside_them(tmp_path):
    store = ArtifactStore(tmp_path)
    meta = publish_figures({"a": _figure("a"), "b": _figure("b")}, store)
    bundle = get_plotlyjs()
    shared = store.path(layout.figure(figures.PLOTLY_JS_STEM, ".js"))
    assert shared.read_text(encoding="utf-8") == bundle
    pages = sorted(store.path(layout.FIGURES).glob("*.html"))
    assert [p.name for p in pages] == ["a.html", "b.html"]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert SCRIPT_SRC.findall(text) == [figures.PLOTLY_JS]  # relative, beside the page
        assert (page.parent / figures.PLOTLY_JS) == shared
        assert bundle not in text and len(text) < len(bundle) / 10
    listed = meta["artifacts"].value
    assert layout.figure(figures.PLOTLY_JS_STEM, ".js") in listed
    for stem in ("a", "b"):
        for suffix in (".html", ".png", ".svg"):
            assert layout.figure(stem, suffix) in listed and store.path(
                layout.figure(stem, suffix)).stat().st_size > 0
    assert meta["figure/a"].value.startswith("![a](data:image/png;base64,")
    # a second asset finds it up to date and leaves the file alone (same inode)...
    inode = shared.stat().st_ino
    publish_figures({"c": _figure("c")}, store)
    assert shared.stat().st_ino == inode
    # ...and one from another plotly is replaced
    shared.write_text("stale", encoding="utf-8")
    publish_figures({"c": _figure("c")}, store)
    assert shared.read_text(encoding="utf-8") == bundle
