"""The held-out evaluation on a synthetic cohort whose answer is known.

On the ``confounded`` scenario, complexity drives code count and outcomes while the
planted subtypes decide which codes go together: every real representation predicts a
planted subtype's anchor block from the rest of the record, and a representation that
encodes only code count -- built here on purpose -- comes last on the masked diagnoses.
"""

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from mh_assets.core import schema
from mh_assets.core.clustering.config import ClusterConfig
from mh_assets.core.clustering.null import multi_hot_features, tfidf_features
from mh_assets.core.evaluation import ScoringConfig, evaluate_representations
from mh_assets.core.evaluation.evaluate import TOO_RARE, comparison_table
from mh_assets.core.evaluation.tasks import BLOCKS, MASKED
from mh_assets.core.representations import N_CODES_ONLY
from mh_assets.core.synthetic import SyntheticSpec
from mh_assets.core.synthetic.cohorts import synthetic_corpora

FAST = ScoringConfig(bootstrap=200)
# Anchor blocks of planted subtypes (synthetic/codes.py): psychosis in both sexes,
# personality disorder (and its self-harm) in both.
ANCHORS = ("psychotic disorders (F20-F29)", "personality disorders (F60)")
CODE_COUNT = "code count, one-hot"


def code_count_one_hot(corpus: pl.DataFrame) -> np.ndarray:
    """A representation that knows how many codes a patient has, and nothing else."""
    n = corpus[schema.N_CODES].to_numpy()
    return (n[:, None] == np.arange(1, 16)[None, :]).astype(np.float64)


@pytest.fixture(scope="module")
def confounded():
    return synthetic_corpora(SyntheticSpec(patients=1400, seed=6, scenario="confounded"))


@pytest.fixture(scope="module")
def encoder():
    from mh_assets.core.modelling.descriptors import DescriptorEncoder

    return DescriptorEncoder(threads=2)


@pytest.fixture(scope="module")
def evaluations(confounded, encoder):
    config = ClusterConfig()
    representations = {"descriptors": encoder, "multi-hot categories": multi_hot_features(config),
                       "tfidf-svd": tfidf_features(config), CODE_COUNT: code_count_one_hot}
    return {sex: evaluate_representations(item.corpus, representations, FAST)
            for sex, item in confounded.items()}


def masked_aurocs(evaluation) -> pl.DataFrame:
    return evaluation.table.filter(pl.col("group") == MASKED).pivot(
        "representation", index="task", values="auroc")


def test_every_representation_predicts_a_planted_anchor_block_without_its_codes(evaluations):
    for sex, evaluation in evaluations.items():
        anchors = masked_aurocs(evaluation).filter(pl.col("task").is_in(ANCHORS))
        for name in ("descriptors", "multi-hot categories", "tfidf-svd"):
            assert anchors[name].min() > 0.6, (sex, name, anchors)


def test_a_representation_of_code_count_alone_ranks_last_on_masked_diagnoses(evaluations):
    for sex, evaluation in evaluations.items():
        masked = evaluation.mean_auroc((MASKED,))
        real = [masked[n] for n in ("descriptors", "multi-hot categories", "tfidf-svd")]
        assert masked[CODE_COUNT] < min(real) - 0.1, (sex, masked)
        ranked = sorted(masked, key=masked.get)
        assert set(ranked[:2]) == {CODE_COUNT, N_CODES_ONLY}, (sex, masked)


def test_code_count_is_what_the_code_count_representation_is_made_of(evaluations):
    for evaluation in evaluations.values():
        r2 = dict(evaluation.r2.iter_rows())
        assert r2[CODE_COUNT] > 0.95 and r2[N_CODES_ONLY] > 0.99
        assert r2["descriptors"] < r2[CODE_COUNT]


def test_every_representation_meets_every_task_and_the_reference_comes_last(evaluations):
    evaluation = evaluations["female"]
    assert evaluation.representations == ["descriptors", "multi-hot categories", "tfidf-svd",
                                          CODE_COUNT, N_CODES_ONLY]
    assert evaluation.table.height == 5 * (5 + len(BLOCKS))
    wide = comparison_table(evaluation.table)
    assert wide.height == 5 + len(BLOCKS)
    assert wide.columns[:4] == ["group", "task", "n", "prevalence"]


def test_a_block_too_rare_to_score_is_reported_and_its_prevalence_hidden(confounded):
    corpus = confounded["female"].corpus
    with_block = corpus.filter(pl.col(schema.CODES).list.eval(
        pl.element().str.starts_with("F60")).list.any())
    rare = pl.concat([corpus.filter(~pl.col(schema.PATIENT_ID).is_in(
        with_block[schema.PATIENT_ID].implode())), with_block.head(9)])
    evaluation = evaluate_representations(rare, {"multi-hot": multi_hot_features()},
                                          replace(FAST, bootstrap=50))
    row = evaluation.table.filter(pl.col("task") == "personality disorders (F60)")
    assert row["status"].to_list() == [TOO_RARE, TOO_RARE]
    assert row["prevalence"].null_count() == 2 and row["auroc"].null_count() == 2


@pytest.mark.slow
def test_a_trained_transformer_predicts_the_anchor_blocks_too(confounded, tmp_path):
    """The transformer's masked texts are re-embedded with its checkpoint, not retrained."""
    from mh_assets.core.modelling import preset_config
    from mh_assets.core.modelling.contrastive import train_contrastive
    from mh_assets.core.modelling.embed import TextEmbedder
    from mh_assets.core.modelling.mlm import train_mlm

    corpus = confounded["female"].corpus
    config = preset_config(
        "demo", hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=128, max_length=128, tokenizer_vocab_size=800, mlm_epochs=2,
        mlm_lr=2e-3, mlm_batch_size=32, contrastive_epochs=1, contrastive_batch_size=16,
        projection_dim=32, torch_threads=2, seed=3)
    train_mlm(corpus[schema.TEXT].to_list(), config, tmp_path / "mlm", tmp_path / "s1")
    train_contrastive(corpus, tmp_path / "mlm", config, tmp_path / "contrastive",
                      tmp_path / "s2")
    embed = TextEmbedder(tmp_path / "contrastive", config)
    evaluation = evaluate_representations(
        corpus, {"transformer": lambda c: embed(c[schema.TEXT].to_list()),
                 CODE_COUNT: code_count_one_hot}, FAST)
    anchors = masked_aurocs(evaluation).filter(pl.col("task").is_in(ANCHORS))
    assert anchors["transformer"].min() > 0.6, anchors
    masked = evaluation.mean_auroc((MASKED,))
    assert masked[CODE_COUNT] < masked["transformer"] - 0.1, masked


def test_a_matrix_at_hand_is_used_and_only_the_masked_corpora_are_built(confounded):
    corpus = confounded["female"].corpus
    built: list[int] = []

    def counted(c):
        built.append(c[schema.N_CODES].sum())
        return code_count_one_hot(c)

    evaluation = evaluate_representations(
        corpus, {"counted": counted}, replace(FAST, bootstrap=50),
        features={"counted": code_count_one_hot(corpus)})
    assert corpus[schema.N_CODES].sum() not in built  # the unmasked corpus: not rebuilt
    assert len(built) == len(BLOCKS)  # once per masked block
    assert evaluation.table.filter(pl.col("representation") == "counted").height == 9


def test_a_per_patient_representation_rebuilds_only_the_rows_a_mask_changed(confounded):
    from mh_assets.core.evaluation.evaluate import masked_features
    from mh_assets.core.evaluation.tasks import mask_block
    from mh_assets.core.representations import PerPatient

    corpus = confounded["female"].corpus
    embedded: list[int] = []

    def embed(texts):  # a stand-in encoder: one row per text, from that text alone
        embedded.append(len(texts))
        return np.array([[len(t), t.count(" ")] for t in texts], dtype=np.float32)

    per_patient = PerPatient(embed)
    masked = mask_block(corpus, next(iter(BLOCKS)))
    changed = int((masked[schema.TEXT] != corpus[schema.TEXT]).sum())
    assert 0 < changed < corpus.height
    X = masked_features(per_patient, masked, corpus, per_patient(corpus))
    assert embedded[-1] == changed  # only the changed texts were embedded again
    np.testing.assert_array_equal(X, embed(masked[schema.TEXT].to_list()))  # = a full rebuild
    # a representation that is not per patient (its vocabulary spans the corpus) is rebuilt
    calls: list[int] = []
    masked_features(lambda c: calls.append(c.height) or code_count_one_hot(c), masked, corpus,
                    code_count_one_hot(corpus))
    assert calls == [corpus.height]
