"""The cluster x top-codes prevalence heatmap: which codes, which cells are hidden, and
that a hidden cell's value is nowhere in the figure."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from mh_assets.core.clustering.profiles import code_profiles
from mh_assets.core.publish import figures, maps


def _profile(rows: list[tuple[int, str, int, int, int]]) -> pl.DataFrame:
    """(cluster, code, patients with the code, cluster size, rank) rows of a code profile."""
    frame = pl.DataFrame(rows, schema=["cluster", "code", "patients_with_code", "cluster_size",
                                       "rank"], orient="row")
    return frame.with_columns(
        pl.col("cluster").cast(pl.Int32), pl.col("rank").cast(pl.Int32),
        cluster_label=pl.format("F{}", pl.col("cluster") + 1), code_display=pl.col("code"),
        descriptor=pl.format("descriptor of {}", pl.col("code")),
        prevalence_in=pl.col("patients_with_code") / pl.col("cluster_size"),
    )


@pytest.fixture
def profile() -> pl.DataFrame:
    return _profile([
        (0, "F60.3", 90, 200, 1), (0, "F29", 30, 200, 2), (0, "R45.851", 3, 200, 3),
        (1, "F29", 70, 100, 1), (1, "F10.10", 40, 100, 2), (1, "F60.3", 7, 100, 3),
    ])


def _cell(cells: pl.DataFrame, code: str, cluster: str) -> dict:
    return cells.filter((pl.col("code") == code) & (pl.col("cluster_label") == cluster)).row(
        0, named=True)


def test_top_codes_are_each_clusters_strongest_shown_codes_in_cluster_order(profile):
    cells = maps.prevalence_cells(profile, min_cell=10, per_cluster=2)
    codes = cells.sort("row")["code"].unique(maintain_order=True).to_list()
    assert codes == ["F60.3", "F29", "F10.10"]  # F1's two, then F2's new one; no repeat
    assert set(cells["cluster_label"]) == {"F1", "F2"}
    assert cells.height == 3 * 2  # every code x every cluster, absent codes as 0
    # a code held by fewer than 10 of a cluster is nobody's signature
    assert "R45.851" not in maps.top_codes(profile, 10, per_cluster=3)["code"].to_list()


def test_a_cell_of_one_to_nine_patients_is_masked_and_zero_is_shown(profile):
    cells = maps.prevalence_cells(profile, min_cell=10)
    small = _cell(cells, "F60.3", "F2")  # 7 patients
    assert small["mark"] == "<10" and small["prevalence"] is None
    big = _cell(cells, "F60.3", "F1")
    assert big["mark"] == "" and big["prevalence"] == pytest.approx(45.0)
    absent = _cell(cells, "F10.10", "F1")
    assert absent["mark"] == "" and absent["prevalence"] == 0.0
    assert _cell(cells, "F29", "F2")["size_text"] == "100"


def test_a_lone_hidden_cell_of_a_code_whose_total_is_published_takes_a_complement_with_it():
    # F29: 60 of F1's 200 and 45 outside F1 -> its total (105) is published elsewhere, so
    # the 5 in F3 would be 105 - 60 - 40: the smallest other cell (F2) is withheld too
    profile = _profile([
        (0, "F29", 60, 200, 1), (1, "F29", 40, 100, 1), (2, "F29", 5, 100, 1),
        (0, "F14.10", 150, 200, 2), (3, "F14.10", 3, 100, 1),
    ])
    cells = maps.prevalence_cells(profile, min_cell=10)
    assert _cell(cells, "F29", "F3")["mark"] == "<10"
    assert _cell(cells, "F29", "F2")["mark"] == "*" and _cell(cells, "F29", "F2")[
        "prevalence"] is None
    assert _cell(cells, "F29", "F1")["prevalence"] == pytest.approx(30.0)
    # F14.10: all but 3 of its patients in F1, so its total is never published: the
    # cluster it defines stays visible
    assert _cell(cells, "F14.10", "F4")["mark"] == "<10"
    assert _cell(cells, "F14.10", "F1")["mark"] == ""


def test_every_cell_of_a_cluster_whose_size_is_hidden_is_withheld():
    profile = _profile([
        (0, "F29", 150, 300, 1), (1, "F29", 20, 40, 1), (2, "F29", 4, 6, 1),
    ])
    cells = maps.prevalence_cells(profile, min_cell=10)
    # F3 (6 patients) is hidden, and F2 with it, since the sizes add up to the partition's
    assert _cell(cells, "F29", "F3")["size_text"] == "<10"
    assert _cell(cells, "F29", "F2")["size_text"] == "*"
    withheld = _cell(cells, "F29", "F2")  # 20 patients: not small, but 20/40 gives the size
    assert withheld["mark"] == "*" and withheld["prevalence"] is None
    assert _cell(cells, "F29", "F1")["prevalence"] == pytest.approx(50.0)


def test_the_heatmap_masks_small_cells_and_shows_no_hidden_value(profile):
    cells = maps.prevalence_cells(profile, min_cell=10)
    figure = figures.prevalence_heatmap(cells, "cluster_prevalence_map_female")
    shown, hidden = json.loads(figure.spec)["data"]
    rows = [label.split(" ")[0] for label in shown["y"]]
    i, j = rows.index("F60.3"), 1  # F60.3 in F2: 7 of 100 patients
    assert shown["z"][i][j] is None and shown["text"][i][j] == ""
    assert hidden["z"][i][j] == 1.0 and hidden["text"][i][j] == "<10"  # the grey mask layer
    assert hidden["z"][i][0] is None and hidden["text"][i][0] == ""
    assert shown["z"][i][0] == pytest.approx(45.0)
    assert shown["text"][i][0] == "45%"  # a share, never to be read as a count
    assert "7.0" not in figure.spec and '"7"' not in figure.spec  # 7% of F2 is nowhere
    svg = figure.svg.decode()
    assert "&lt;10" in svg and ">7<" not in svg
    assert figure.title == figures.figure_entry("cluster_prevalence_map_female").title
    assert "Patients of the cluster with the code (%)" in svg


def test_the_heatmap_reads_the_profiles_cluster_profiles_writes():
    rng = np.random.default_rng(0)
    codes = [["F29", "F12.10"], ["F60.3"], ["F29"], ["F10.10", "F60.3"]] * 30
    corpus = pl.DataFrame({"codes": codes, "descriptors": [[f"d {c}" for c in row]
                                                           for row in codes]})
    labels = rng.integers(0, 3, corpus.height)
    profile = code_profiles(corpus, labels, ["F1", "F2", "F3"])
    cells = maps.prevalence_cells(profile, min_cell=10)
    assert set(cells["cluster_label"]) == {"F1", "F2", "F3"}
    assert cells["prevalence"].drop_nulls().max() <= 100
    assert figures.prevalence_heatmap(cells, "h").png.startswith(b"\x89PNG")


def test_with_many_clusters_each_keeps_its_own_codes_within_a_page():
    rows = [(c, f"C{c}.{r}", 50, 100, r) for c in range(12) for r in range(1, 6)]
    chosen = maps.top_codes(_profile(rows), min_cell=10, per_cluster=5, max_codes=30)
    assert chosen.height == 24  # 2 per cluster: 12 x 5 would not fit on a page
    assert {code.split(".")[0] for code in chosen["code"]} == {f"C{c}" for c in range(12)}


def test_cluster_figures_come_grids_first_then_the_maps_sexes_in_order(profile):
    from mh_assets.core.publish.cluster_figures import SexFigureInputs, cluster_figures

    rng = np.random.default_rng(3)
    inputs = {sex: SexFigureInputs(profile, rng.normal(size=(60, 8)).astype(np.float32),
                                   rng.integers(0, 2, 60), [f"{sex[0].upper()}1",
                                                            f"{sex[0].upper()}2"])
              for sex in ("female", "male")}
    drawn = cluster_figures(inputs, min_cell=10, seed=7)
    # every grid first, then the maps (60 patients: PCA only, no UMAP under 100)
    assert list(drawn) == ["cluster_prevalence_map_female", "cluster_prevalence_map_male",
                           "embedding_map_pca_female", "embedding_map_pca_male"]
    assert drawn["embedding_map_pca_female"].files() != drawn["embedding_map_pca_male"].files()
