"""The all-clusters table and the shared profile vectors."""

import numpy as np
import polars as pl
import pytest

from mh_assets.core.clustering import pairs, projection
from mh_assets.core.publish import cluster_table


def _codes(sex_prefix: str, sizes: list[int],
           rows: list[tuple[int, str, float, int]]) -> pl.DataFrame:
    """Code profiles: (cluster, code, c-DF-IPF, members with the code) per row."""
    return pl.DataFrame(
        {
            "cluster": [c for c, _, _, _ in rows],
            "cluster_label": [f"{sex_prefix}{c + 1}" for c, _, _, _ in rows],
            "code": [code for _, code, _, _ in rows],
            "code_display": [code[:3] + "." + code[3:] if len(code) > 3 else code
                             for _, code, _, _ in rows],
            "descriptor": [f"desc {code}" for _, code, _, _ in rows],
            "patients_with_code": [n for _, _, _, n in rows],
            "lift": [1.5 for _ in rows],
            "c_df_ipf": [v for _, _, v, _ in rows],
            "cluster_size": [sizes[c] for c, _, _, _ in rows],
            "rank": [1, 2, 1][: len(rows)] if len(rows) == 3 else list(range(1, len(rows) + 1)),
        },
        schema_overrides={"cluster": pl.Int32, "rank": pl.Int32},
    )


@pytest.fixture
def inputs():
    codes = {
        "female": _codes("F", [30, 5], [(0, "F1210", 0.9, 20), (0, "F329", 0.4, 12),
                                        (1, "F910", 1.2, 4)]),
        "male": _codes("M", [40, 12], [(0, "F1210", 0.8, 25), (1, "F200", 1.5, 11)]),
    }
    codes["male"] = codes["male"].with_columns(pl.Series("rank", [1, 1], dtype=pl.Int32))
    terms = {
        sex: frame.select("cluster", "cluster_label", pl.col("descriptor").alias("term"), "rank")
        for sex, frame in codes.items()
    }
    summaries = {
        sex: frame.group_by("cluster_label").agg(pl.lit("n_codes").alias("variable"),
                                                 pl.lit(3.5).alias("mean"))
        for sex, frame in codes.items()
    }
    stability = {
        sex: frame.select("cluster_label").unique().with_columns(pl.lit(0.8).alias("mean_jaccard"))
        for sex, frame in codes.items()
    }
    return codes, terms, summaries, stability


def test_cluster_table_has_every_cluster_with_share_of_its_sex(inputs):
    table = cluster_table.cluster_table(*inputs)
    assert table.height == 4
    female = table.filter(pl.col("sex") == "female").sort("cluster_label")
    assert female.get_column("size").to_list() == [30, 5]
    assert female.get_column("pct_of_sex").to_list() == pytest.approx([30 / 35 * 100, 5 / 35 * 100])
    first = female.row(0, named=True)
    assert first["top_codes"].startswith("F12.10 desc F1210 (0.9)")
    assert "F32.9" in first["top_codes"]


def _published(inputs, min_cell=10):
    table = cluster_table.cluster_table(*inputs)
    codes = cluster_table.publish_cluster_codes(cluster_table.cluster_codes(inputs[0]), table,
                                                min_cell)
    return cluster_table.publish_cluster_table(table, min_cell, codes=codes), codes


def test_published_cluster_table_hides_small_clusters_and_their_partner(inputs):
    published, _ = _published(inputs)
    female = published.filter(pl.col("sex") == "female").sort("cluster_label")
    assert female.get_column("size").to_list() == ["*", "<10"]
    assert set(female.get_column("pct_of_sex").to_list()) == {"*"}
    male = published.filter(pl.col("sex") == "male").sort("cluster_label")
    assert male.get_column("size").to_list() == ["40", "12"]


def test_profile_vectors_share_one_code_order(inputs):
    matrices, labels, codes = pairs.profile_vectors(inputs[0])
    assert codes == ["F1210", "F200", "F329", "F910"]
    assert matrices["female"].shape == (2, 4) and matrices["male"].shape == (2, 4)
    assert labels["male"] == ["M1", "M2"]
    assert matrices["female"][0, codes.index("F329")] == pytest.approx(0.4)
    assert matrices["male"][1, codes.index("F200")] == pytest.approx(1.5)


@pytest.mark.parametrize("method", ["pca", "umap"])
def test_projection_is_two_dimensional_and_seeded(method):
    rng = np.random.default_rng(0)
    matrix = rng.random((12, 6))
    first = projection.project(matrix, method, seed=3)
    assert first.shape == (12, 2)
    np.testing.assert_allclose(first, projection.project(matrix, method, seed=3))


def test_projection_rejects_unknown_method():
    with pytest.raises(ValueError, match="unknown projection"):
        projection.project(np.ones((4, 3)), "tsne", seed=0)


def test_published_cluster_table_names_top_codes_and_leaves_scores_to_the_code_table(inputs):
    restricted = cluster_table.cluster_table(*inputs)
    assert "(0.9)" in restricted.filter(pl.col("cluster_label") == "F1")["top_codes"][0]
    published, codes = _published(inputs)
    top = dict(zip(published["cluster_label"], published["top_codes"], strict=True))
    # a score, with the IPF from a lift elsewhere, gives back its count: names only here
    assert top["M1"] == "F12.10 desc F1210" and top["M2"] == "F20.0 desc F200"
    assert top["F1"] == "F12.10 desc F1210; F32.9 desc F329"
    # F1's size is hidden (its partner F2 has 5): in the code table its scores are too
    assert codes.filter(pl.col("cluster_label") == "F1")["c_df_ipf"].to_list() == ["*", "*"]


def test_the_cluster_table_carries_descriptive_names_next_to_the_labels(inputs):
    named = cluster_table.cluster_table(*inputs, names={"female": {"F1": "F1 · cannabis"}})
    names = dict(zip(named["cluster_label"], named["name"], strict=True))
    assert names["F1"] == "F1 · cannabis" and names["M1"] == "M1"  # the label without one


def _corpus_and_labels():
    """50 female patients: F1 = the first 30, F2 = the other 20. F12.10: 24 in F1 and 6
    in F2; F32.9: 12 in F1; F91.0: 2 in F1 and 15 in F2; everyone has Z00.0."""
    codes = [["Z000"] for _ in range(50)]
    for members, code in ((list(range(24)) + list(range(30, 36)), "F1210"),
                          (range(12), "F329"), (list(range(2)) + list(range(30, 45)), "F910")):
        for i in members:
            codes[i].append(code)
    corpus = pl.DataFrame({"codes": codes, "descriptors": [[f"d {c}" for c in row]
                                                           for row in codes]})
    return corpus, np.array([0] * 30 + [1] * 20)


def test_cluster_codes_shares_lift_and_c_df_ipf_match_a_hand_count():
    from mh_assets.core.clustering.profiles import code_profiles

    corpus, labels = _corpus_and_labels()
    profiles = {"female": code_profiles(corpus, labels, ["F1", "F2"])}
    table = cluster_table.cluster_codes(profiles, top_codes=3)
    assert table.filter(pl.col("cluster_label") == "F1")["code"].to_list() == [
        "F32.9", "F12.10", "F91.0"]
    row = table.filter((pl.col("cluster_label") == "F1") & (pl.col("code") == "F12.10")
                       ).row(0, named=True)
    assert (row["n_in"], row["cluster_size"], row["n_out"], row["n_outside"]) == (24, 30, 6, 20)
    assert row["pct_in"] == pytest.approx(80.0) and row["pct_out"] == pytest.approx(30.0)
    assert row["lift"] == pytest.approx(0.8 / (30 / 50))
    assert row["c_df_ipf"] == pytest.approx(0.8 * np.log(50 / 30))
    # Wilson 95% of 24/30 by hand: 62.6943-90.4949; of 6/20: 14.5477-51.8973
    assert (row["pct_in_ci_low"], row["pct_in_ci_high"]) == pytest.approx(
        (62.6943, 90.4949), abs=1e-4)
    assert (row["pct_out_ci_low"], row["pct_out_ci_high"]) == pytest.approx(
        (14.5477, 51.8973), abs=1e-4)
    assert row["clusters_with_code"] == 2


def _restricted(rows: list[tuple]) -> pl.DataFrame:
    """(sex, cluster, code, n_in, size, n_out, n_outside, clusters_with_code) per row."""
    from mh_assets.core.publish.intervals import wilson_interval

    out = []
    for rank, (sex, label, code, n_in, size, n_out, outside, k) in enumerate(rows, start=1):
        total, n_sex = n_in + n_out, size + outside
        (in_low, in_high), (out_low, out_high) = (
            wilson_interval(n_in, size), wilson_interval(n_out, outside))
        out.append({
            "sex": sex, "cluster_label": label, "rank": rank, "code": code,
            "descriptor": f"d {code}", "n_in": n_in, "cluster_size": size,
            "pct_in": 100 * n_in / size, "pct_in_ci_low": 100 * float(in_low),
            "pct_in_ci_high": 100 * float(in_high), "n_out": n_out, "n_outside": outside,
            "pct_out": 100 * n_out / outside, "pct_out_ci_low": 100 * float(out_low),
            "pct_out_ci_high": 100 * float(out_high),
            "lift": (n_in / size) / (total / n_sex),
            "c_df_ipf": n_in / size * np.log(n_sex / total), "clusters_with_code": k,
        })
    return pl.DataFrame(out)


def test_cluster_code_shares_below_the_minimum_cell_are_suppressed_with_what_reveals_them():
    table = _restricted([
        ("female", "F1", "A", 50, 60, 3, 70, 2),   # few outside: share out, lift, score hidden
        ("female", "F1", "B", 4, 60, 20, 70, 3),   # few inside: its share and CI hidden too
        ("female", "F1", "C", 30, 60, 0, 70, 1),   # all shown (zero is shown)
        ("female", "F2", "D", 25, 40, 20, 90, 2),  # D's two rows add up to its total ...
        ("female", "F3", "D", 5, 30, 40, 100, 2),  # ... so this "<10" hides F2's n too
        ("male", "M1", "E", 12, 15, 0, 8, 1),      # M1's size is hidden (M2 has 8)
        ("male", "M2", "F", 6, 8, 9, 15, 2),
    ])
    clusters = pl.DataFrame({"sex": ["female"] * 3 + ["male"] * 2,
                             "cluster_label": ["F1", "F2", "F3", "M1", "M2"],
                             "size": [60, 40, 30, 15, 8]})
    out = cluster_table.publish_cluster_codes(table, clusters, min_cell=10)
    assert out.columns == list(cluster_table.CODE_PUBLISHED)
    rows = {(r["cluster_label"], r["code"]): r for r in out.iter_rows(named=True)}
    stats = ("pct_out", "pct_out_ci", "lift", "c_df_ipf")
    a = rows[("F1", "A")]
    assert (a["n_in"], a["pct_in"], a["pct_in_ci"]) == ("50", "83.3", "72.0–90.7")
    assert all(a[c] == "*" for c in stats)
    b = rows[("F1", "B")]
    assert b["n_in"] == "<10" and all(b[c] == "*" for c in ("pct_in", "pct_in_ci", *stats))
    c = rows[("F1", "C")]
    assert (c["n_in"], c["pct_in"], c["pct_out"], c["pct_out_ci"]) == ("30", "50.0", "0.0",
                                                                     "0.0–5.2")
    assert c["lift"] == "2.17" and c["c_df_ipf"] == f"{0.5 * np.log(130 / 30):.3f}"
    assert rows[("F3", "D")]["n_in"] == "<10"
    assert rows[("F2", "D")]["n_in"] == "*" and rows[("F2", "D")]["pct_in"] == "*"
    assert all(v == "*" for k, v in rows[("M1", "E")].items()
               if k in ("n_in", "pct_in", "pct_in_ci", *stats))
    assert rows[("M2", "F")]["n_in"] == "<10" and rows[("M2", "F")]["pct_in"] == "*"
    # the published copy is all strings: nothing can be re-formatted into view
    assert all(dtype == pl.String for dtype in out.dtypes)
