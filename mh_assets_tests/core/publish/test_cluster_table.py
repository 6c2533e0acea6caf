"""The all-clusters table and the shared profile vectors."""

import numpy as np
import polars as pl
import pytest

from mh_assets.core.clustering import pairs, projection
from mh_assets.core.publish import cluster_table


def _codes(sex_prefix: str, sizes: list[int], rows: list[tuple[int, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "cluster": [c for c, _, _ in rows],
            "cluster_label": [f"{sex_prefix}{c + 1}" for c, _, _ in rows],
            "code": [code for _, code, _ in rows],
            "code_display": [code[:3] + "." + code[3:] if len(code) > 3 else code
                             for _, code, _ in rows],
            "descriptor": [f"desc {code}" for _, code, _ in rows],
            "c_df_ipf": [v for _, _, v in rows],
            "cluster_size": [sizes[c] for c, _, _ in rows],
            "rank": [1, 2, 1][: len(rows)] if len(rows) == 3 else list(range(1, len(rows) + 1)),
        },
        schema_overrides={"cluster": pl.Int32, "rank": pl.Int32},
    )


@pytest.fixture
def inputs():
    codes = {
        "female": _codes("F", [30, 5], [(0, "F1210", 0.9), (0, "F329", 0.4), (1, "F910", 1.2)]),
        "male": _codes("M", [40, 12], [(0, "F1210", 0.8), (1, "F200", 1.5)]),
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


def test_published_cluster_table_hides_small_clusters_and_their_partner(inputs):
    published = cluster_table.publish_cluster_table(cluster_table.cluster_table(*inputs), 10)
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
