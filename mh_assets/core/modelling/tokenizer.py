"""Tokenizers: a domain Unigram model trained on the corpus, or the backbone's own.

DeBERTa-v3 tokenizes with a SentencePiece Unigram model over whitespace-marked
pieces; the demo backbone gets the same kind of model, but trained on the
partition's descriptor texts, so a few thousand pieces cover the clinical vocabulary
instead of spending most of a general-purpose vocabulary on words that never occur.
Pieces never cross whitespace or punctuation, so the ``;`` of the descriptor
separator ``" ; "`` always stays a token of its own: the model sees where one
diagnosis ends and the next begins.
Casing carries no diagnostic information in ICD descriptors, so the domain
tokenizer lower-cases.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
from tokenizers.models import BPE, Unigram
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from .config import TrainingConfig

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def train_domain_tokenizer(
    texts: Sequence[str], vocab_size: int, max_length: int
) -> PreTrainedTokenizerFast:
    """A Unigram (SentencePiece-style) tokenizer fitted to ``texts``.

    Pieces are seeded by BPE merges and scored by their corpus frequency -- one
    Unigram EM step, a seeding the Unigram literature lists as standard. Why not
    ``tokenizers``' own UnigramTrainer: its suffix-array seeding runs over the
    *distinct* words, and on a corpus of a few hundred distinct descriptor words it
    fragments even the most frequent ones ("dependence" -> dep/en/de/nce), which
    doubles sequence lengths and wastes the model on spelling. Deterministic: the
    same texts give the same vocabulary.
    """
    bpe = _empty_tokenizer(BPE(unk_token="[UNK]"))
    bpe.train_from_iterator(
        texts,
        trainer=trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS), show_progress=False
        ),
        length=len(texts),
    )
    ids = [e.ids for e in bpe.encode_batch(list(texts), add_special_tokens=False)]
    counts = np.bincount(
        np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64),
        minlength=bpe.get_vocab_size(),
    ).astype(np.float64)
    log_p = np.log((counts + 0.5) / (counts.sum() + 0.5 * counts.size))
    pieces = sorted(bpe.get_vocab().items(), key=lambda item: item[1])
    vocab = [(piece, 0.0 if piece in SPECIAL_TOKENS else float(log_p[i])) for piece, i in pieces]
    unk_id = SPECIAL_TOKENS.index("[UNK]")
    tok = _empty_tokenizer(Unigram(vocab, unk_id=unk_id, byte_fallback=False))
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
        padding_side="right",
    )


def _empty_tokenizer(model) -> Tokenizer:
    """NFKC + lower-case; pieces split at whitespace (marked "▁") and punctuation."""
    tok = Tokenizer(model)
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"),
            pre_tokenizers.Punctuation(),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    return tok


#: what ``from_pretrained`` adds to a tokenizer's saved config about how it was loaded
LOADING_KWARGS = ("is_local", "local_files_only")


def load_tokenizer(model_dir: Path, max_length: int) -> PreTrainedTokenizerBase:
    """The tokenizer saved beside a checkpoint (or shipped with pretrained weights)."""
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    tokenizer.model_max_length = max_length
    # how it was loaded is not what it is: saved again (a resumed run's checkpoint) the
    # config must read as the freshly trained one's, byte for byte
    for loading_only in LOADING_KWARGS:
        tokenizer.init_kwargs.pop(loading_only, None)
    return tokenizer


def build_tokenizer(
    texts: Sequence[str], config: TrainingConfig, model_dir: Path | None
) -> PreTrainedTokenizerBase:
    """Train a domain tokenizer for a scratch backbone, else load the backbone's own."""
    if model_dir is None:
        return train_domain_tokenizer(texts, config.tokenizer_vocab_size, config.max_length)
    return load_tokenizer(model_dir, config.max_length)
