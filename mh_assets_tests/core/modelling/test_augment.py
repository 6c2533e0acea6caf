"""Positive-pair augmentations: whole descriptors move, at most max codes drop, never all."""

from __future__ import annotations

from collections import Counter

import numpy as np
import polars as pl
import pytest

from mh_assets.core import schema
from mh_assets.core.modelling.augment import code_set_view, make_views
from mh_assets.core.modelling.toy_corpus import PATTERNS, toy_corpus

SEP = schema.DESCRIPTOR_SEPARATOR


@pytest.fixture(scope="module")
def corpus() -> pl.DataFrame:
    return toy_corpus(400, seed=3)


def _lists(view: list[str]) -> list[list[str]]:
    return [text.split(SEP) for text in view]


def test_code_set_views_drop_at_most_max_codes_and_never_all(corpus):
    originals = corpus[schema.DESCRIPTORS].to_list()
    for max_dropped in (0, 1, 2, 5):
        view_a, _ = make_views(corpus, "code_set", max_dropped, seed=1, epoch=0)
        for original, view in zip(originals, _lists(view_a), strict=True):
            assert 1 <= len(view) <= len(original)
            assert len(original) - len(view) <= max_dropped


def test_code_set_views_keep_whole_descriptors(corpus):
    view_a, view_b = make_views(corpus, "code_set", 2, seed=1, epoch=0)
    originals = corpus[schema.DESCRIPTORS].to_list()
    for original, a, b in zip(originals, _lists(view_a), _lists(view_b), strict=True):
        for view in (a, b):
            # a sub-multiset of the patient's descriptors: nothing split, nothing invented
            assert not Counter(view) - Counter(original)


def test_code_set_views_drop_every_allowed_number_and_shuffle(corpus):
    originals = corpus[schema.DESCRIPTORS].to_list()
    view_a, _ = make_views(corpus, "code_set", 2, seed=1, epoch=0)
    pairs = list(zip(originals, _lists(view_a), strict=True))
    dropped = Counter(len(o) - len(v) for o, v in pairs if len(o) >= 3)
    assert set(dropped) == {0, 1, 2}
    reordered = sum(v != [d for d in o if d in v] for o, v in pairs if len(v) >= 2)
    assert reordered > 0


def test_code_set_views_are_seeded_and_fresh_each_epoch(corpus):
    first = make_views(corpus, "code_set", 2, seed=7, epoch=0)
    assert make_views(corpus, "code_set", 2, seed=7, epoch=0) == first
    assert make_views(corpus, "code_set", 2, seed=7, epoch=1) != first
    assert make_views(corpus, "code_set", 2, seed=8, epoch=0) != first
    assert first[0] != first[1]


def test_a_single_code_patient_keeps_its_code_and_empty_lists_stay_empty():
    values = [["only"], [], None, ["x", "y", "z"]]
    lists = pl.Series(schema.DESCRIPTORS, values, dtype=pl.List(pl.Utf8))
    for seed in range(20):
        view = code_set_view(lists, max_dropped=2, rng=np.random.default_rng(seed)).to_list()
        assert view[0] == ["only"] and view[1] == [] and view[2] == []
        assert 1 <= len(view[3]) <= 3


def test_dropout_only_views_are_the_unchanged_texts(corpus):
    view_a, view_b = make_views(corpus, "dropout_only", 2, seed=1, epoch=0)
    assert view_a == view_b == corpus[schema.TEXT].to_list()


def test_word_shuffle_permutes_the_words_of_the_text(corpus):
    view_a, _ = make_views(corpus, "word_shuffle", 2, seed=1, epoch=0)
    texts = corpus[schema.TEXT].to_list()
    pairs = list(zip(view_a, texts, strict=True))
    assert all(sorted(a.split(" ")) == sorted(t.split(" ")) for a, t in pairs)
    assert sum(a != t for a, t in pairs) > len(texts) // 2


def test_toy_corpus_has_the_corpus_schema_and_planted_patterns():
    corpus = toy_corpus(300, seed=0)
    expected = [schema.PATIENT_ID, schema.CODES, schema.DESCRIPTORS, schema.TEXT, schema.N_CODES]
    assert corpus.columns[:5] == expected
    assert corpus[schema.PATIENT_ID].n_unique() == 300
    assert (corpus[schema.N_CODES] == corpus[schema.CODES].list.len()).all()
    assert corpus[schema.TEXT][0] == SEP.join(corpus[schema.DESCRIPTORS][0])
    principal = corpus[schema.CODES].list.first().to_list()
    patterns = corpus["pattern"].to_list()
    assert all(p == PATTERNS[k][0] for p, k in zip(principal, patterns, strict=True))
    assert toy_corpus(300, seed=0).equals(corpus)


def test_code_subset_views_keep_a_random_share_of_whole_descriptors(corpus):
    originals = corpus[schema.DESCRIPTORS].to_list()
    view_a, view_b = make_views(corpus, "code_subset", 2, seed=1, epoch=0, min_share=0.3)
    kept_a, kept_b = _lists(view_a), _lists(view_b)
    for original, a, b in zip(originals, kept_a, kept_b, strict=True):
        for view in (a, b):
            assert set(view) <= set(original) and len(view) == len(set(view))
            assert max(1, int(np.ceil(0.3 * len(original)))) <= len(view) <= len(original)
    # the point of the augmentation: two views of one patient differ in code count
    many = [i for i, o in enumerate(originals) if len(o) >= 5]
    assert np.mean([len(kept_a[i]) != len(kept_b[i]) for i in many]) > 0.5


def test_code_subset_views_are_seeded():
    corpus = toy_corpus(50, seed=1)
    assert make_views(corpus, "code_subset", 2, 7, 0) == make_views(corpus, "code_subset", 2, 7, 0)
    assert make_views(corpus, "code_subset", 2, 7, 0) != make_views(corpus, "code_subset", 2, 7, 1)
