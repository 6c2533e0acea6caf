"""The clustering settings: the issue's default resample size, and validation."""

import pytest

from mh_assets.core.clustering import ClusterConfig


def test_default_resample_size_is_min_n_max_500_20_percent():
    config = ClusterConfig()
    assert config.resample_size(100_000) == 20_000
    assert config.resample_size(1_000) == 500
    assert config.resample_size(300) == 300
    assert config.stability_size(100_000) == 20_000


def test_resample_sizes_follow_fractions_counts_and_the_stability_override():
    config = ClusterConfig(sample_size=0.5, stability_sample_size=1.0)
    assert (config.resample_size(1_000), config.stability_size(1_000)) == (500, 1_000)
    assert ClusterConfig(sample_size=700).resample_size(1_000) == 700


@pytest.mark.parametrize("bad", [{"min_k": 1}, {"min_k": 5, "max_k": 4}, {"k": 1},
                                 {"sample_size": 1.5}, {"k_rule": "elbow"}, {"threads": 0},
                                 {"pair_min_similarity": 1.5}, {"pair_min_similarity": -0.1},
                                 {"pair_min_similarity": float("nan")},
                                 {"pair_shared_gap": 0.0}, {"pair_shared_gap": 1.0}])
def test_invalid_settings_are_refused(bad):
    with pytest.raises(ValueError):
        ClusterConfig(**bad)


def test_the_pair_settings_accept_their_bounds_and_are_recorded():
    assert ClusterConfig(pair_min_similarity=0.0).pair_min_similarity == 0.0
    assert ClusterConfig(pair_min_similarity=1.0, pair_shared_gap=0.9).pair_shared_gap == 0.9
    assert ClusterConfig().as_metadata()["clustering.pair_min_similarity"] == "0.5"
