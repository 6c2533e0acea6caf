"""Small pieces of the modelling stages, checked against hand-computed values."""

from __future__ import annotations

import math
import time

import pytest
import torch

from mh_assets.core import schema
from mh_assets.core.modelling import MissingWeightsError, preset_config
from mh_assets.core.modelling import device as device_module
from mh_assets.core.modelling.contrastive import mean_pool, symmetric_nt_xent
from mh_assets.core.modelling.mlm import train_mlm
from mh_assets.core.modelling.resume import FINGERPRINT_FILE, open_state
from mh_assets.core.modelling.summary import TrainingSummary, epoch_losses
from mh_assets.core.modelling.tokenizer import train_domain_tokenizer
from mh_assets.core.modelling.toy_corpus import toy_corpus
from mh_assets.core.modelling.weights import PAPER_DIR_ENV


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return toy_corpus(300, seed=0)[schema.TEXT].to_list()


def test_domain_tokenizer_keeps_the_separator_a_token_of_its_own(texts):
    tokenizer = train_domain_tokenizer(texts, vocab_size=500, max_length=64)
    text = "Cannabis dependence, uncomplicated ; Oppositional defiant disorder"
    tokens = tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"])
    separators = [t for t in tokens if ";" in t]
    assert separators and all(t.strip("▁") == ";" for t in separators)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text.lower()


def test_domain_tokenizer_keeps_frequent_words_whole_and_is_deterministic(texts):
    tokenizer = train_domain_tokenizer(texts, vocab_size=500, max_length=64)
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("Cannabis dependence")["input_ids"])
    assert tokens == ["[CLS]", "▁cannabis", "▁dependence", "[SEP]"]
    again = train_domain_tokenizer(texts, vocab_size=500, max_length=64)
    assert again.get_vocab() == tokenizer.get_vocab()
    assert {"[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]"} <= set(tokenizer.all_special_tokens)


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    assert torch.equal(mean_pool(hidden, torch.tensor([[1, 1, 0]])), torch.tensor([[2.0, 3.0]]))


def test_symmetric_nt_xent_matches_a_hand_computed_case():
    # cos(a_i, b_j) = [[1, 1], [0, 0]] -> logits 20 * that.
    # A->B: both rows are a tie or all-zero: log 2 each.
    # B->A: row 0 picks a_0 (log(1 + e^-20)), row 1 wants a_1 against a_0: log(1 + e^20).
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[2.0, 0.0], [3.0, 0.0]])
    expected = (math.log(2) + (math.log1p(math.exp(-20)) + math.log1p(math.exp(20))) / 2) / 2
    assert symmetric_nt_xent(a, b, temperature=0.05).item() == pytest.approx(expected, rel=1e-6)


def test_symmetric_nt_xent_is_near_zero_for_perfect_distinct_pairs():
    a = torch.eye(4)
    assert symmetric_nt_xent(a, a.clone(), temperature=0.05).item() == pytest.approx(
        math.log1p(3 * math.exp(-20)), abs=1e-6
    )


def test_open_state_resumes_the_newest_complete_checkpoint(tmp_path):
    for step, complete in ((5, True), (10, True), (15, False)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        if complete:
            (folder / "trainer_state.json").write_text("{}")
    (tmp_path / FINGERPRINT_FILE).write_text("key-1")
    assert open_state(tmp_path, "key-1", print) == tmp_path / "checkpoint-10"
    assert not (tmp_path / "checkpoint-15").exists()  # half-written by a killed run


def test_open_state_discards_state_from_other_settings_or_data(tmp_path):
    (tmp_path / "checkpoint-5").mkdir()
    (tmp_path / "checkpoint-5" / "trainer_state.json").write_text("{}")
    (tmp_path / FINGERPRINT_FILE).write_text("key-1")
    messages: list[str] = []
    assert open_state(tmp_path, "key-2", messages.append) is None
    assert not (tmp_path / "checkpoint-5").exists() and messages


def test_epoch_losses_take_one_value_per_epoch():
    history = [
        {"loss": 3.0, "epoch": 1.0},
        {"eval_loss": 2.5, "epoch": 1.0},
        {"loss": 2.0, "epoch": 2.0},
        {"eval_loss": 1.5, "epoch": 2.0},
        {"train_loss": 2.5, "epoch": 2.0},
    ]
    assert epoch_losses(history, "loss") == [3.0, 2.0]
    assert epoch_losses(history, "eval_loss") == [2.5, 1.5]


def test_summary_metadata_is_flat():
    summary = TrainingSummary(
        stage="mlm", preset="demo", backbone="scratch", model_source="scratch", seed=1,
        hyperparameters={"mlm_lr": 0.001, "model_path": None}, n_examples=10, n_parameters=5,
        epochs=2, train_loss_per_epoch=[2.0, 1.0], train_tokens=100, tokens_per_second=10.0,
        global_step=4, resumed_from_step=0, device="cpu", bf16=False, full_determinism=True,
        seconds=1.0, data_sha256="ab", data_version=None, library_versions={"torch": "2"},
    )  # fmt: skip
    metadata = summary.as_metadata()
    assert metadata["hp.mlm_lr"] == 0.001 and metadata["version.torch"] == "2"
    assert "hp.model_path" not in metadata and "data_version" not in metadata
    assert not any(isinstance(v, dict) for v in metadata.values())


def test_paper_preset_fails_before_training_when_weights_are_absent(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(PAPER_DIR_ENV, str(empty))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    started = time.perf_counter()
    with pytest.raises(MissingWeightsError, match=PAPER_DIR_ENV) as caught:
        train_mlm(["a ; b", "c ; d"], preset_config("paper"), tmp_path / "out", tmp_path / "state")
    assert time.perf_counter() - started < 2.0
    assert str(empty) in str(caught.value)
    assert not (tmp_path / "out").exists() and not (tmp_path / "state").exists()


@pytest.fixture
def four_gpus(monkeypatch):
    """nvidia-smi reports four GPUs with these free MiB; CUDA has not started yet."""
    monkeypatch.setattr(device_module.torch.version, "cuda", "12.8")
    monkeypatch.setattr(device_module.torch.cuda, "is_initialized", lambda: False)
    free = {0: 100, 1: 5000, 2: 300, 3: 4000}
    monkeypatch.setattr(device_module, "_free_memory_by_gpu", lambda: dict(free))
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "FASTEST_FIRST")


@pytest.mark.parametrize(
    ("visible", "pinned"), [("0,1,2,3", 1), ("0,2,3", 3), ("0,2", 2), ("2", None)]
)
def test_the_freest_allowed_gpu_is_pinned_before_cuda_starts(
    four_gpus, monkeypatch, visible, pinned
):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert device_module._pin_freest_gpu(print) == pinned
    expected = visible if pinned is None else str(pinned)
    assert device_module.os.environ["CUDA_VISIBLE_DEVICES"] == expected


def test_choose_device_falls_back_to_cpu_and_says_so():
    messages: list[str] = []
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    assert device_module.choose_device(messages.append) == torch.device("cpu")
    assert messages and messages[-1].startswith("device: cpu")


def test_a_loaded_tokenizer_saves_the_same_config_as_the_trained_one(tmp_path):
    """A resumed run saves the tokenizer it loaded from its training state; the final
    checkpoint must be byte-identical to an uninterrupted run's (no loading flags)."""
    from mh_assets.core.modelling.tokenizer import load_tokenizer, train_domain_tokenizer

    trained = train_domain_tokenizer(["anxiety disorder", "conduct disorder unspecified"] * 50,
                                     200, 32)
    trained.save_pretrained(tmp_path / "trained")
    load_tokenizer(tmp_path / "trained", 32).save_pretrained(tmp_path / "reloaded")
    for name in ("tokenizer_config.json", "tokenizer.json"):
        assert (tmp_path / "trained" / name).read_bytes() == \
            (tmp_path / "reloaded" / name).read_bytes(), name


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("width", [None, 64])
def test_pad_batch_gives_the_tensors_the_tokenizer_pads_to(texts, side, width):
    """encode tokenizes once and pads per batch itself: the tensors must be the ones the
    tokenizer's own padding gives, or the embeddings would change."""
    from mh_assets.core.modelling.embed import pad_batch

    tokenizer = train_domain_tokenizer(texts, vocab_size=500, max_length=64)
    tokenizer.padding_side = side
    batch = list(texts[:7])
    ids = tokenizer(batch, truncation=True, max_length=64)["input_ids"]
    expected = tokenizer(batch, padding="max_length" if width else "longest", truncation=True,
                         max_length=64, return_tensors="pt", return_token_type_ids=False)
    input_ids, attention_mask = pad_batch(ids, tokenizer, width)
    assert torch.equal(input_ids, expected["input_ids"])
    assert torch.equal(attention_mask, expected["attention_mask"])


def test_the_masked_lm_loss_projects_only_masked_positions_and_equals_the_models_own(
        texts, tmp_path):
    """Same loss and gradients as the model's forward, with the vocabulary projection
    applied to the masked rows only (what makes the MLM stage cheaper)."""
    from transformers import TrainingArguments

    from mh_assets.core.modelling.backbone import masked_lm
    from mh_assets.core.modelling.mlm import MaskedPositionsTrainer, MaskOrPad

    config = preset_config("demo", hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=64, tokenizer_vocab_size=300, max_length=32)
    tokenizer = train_domain_tokenizer(texts, config.tokenizer_vocab_size, config.max_length)
    torch.manual_seed(0)
    model = masked_lm(config, tokenizer, None).eval()  # no dropout: both passes alike
    features = [{"input_ids": torch.tensor(ids)} for ids in
                tokenizer(texts[:16], truncation=True, max_length=32)["input_ids"]]
    torch.manual_seed(1)
    batch = MaskOrPad(tokenizer, 0.15)(features)
    trainer = MaskedPositionsTrainer(model=model, args=TrainingArguments(
        output_dir=str(tmp_path), use_cpu=True, report_to="none"))
    rows = []
    hook = model.cls.predictions.decoder.register_forward_hook(
        lambda _m, args, _out: rows.append(args[0].numel() // args[0].shape[-1]))
    ours = trainer.compute_loss(model, dict(batch))
    ours.backward()
    ours_grad = model.deberta.embeddings.word_embeddings.weight.grad.clone()
    model.zero_grad()
    theirs = model(**batch).loss
    theirs.backward()
    hook.remove()
    assert rows[0] == int((batch["labels"] != -100).sum()) < batch["labels"].numel() // 3
    assert rows[1] == batch["labels"].numel()  # the model's own forward: every position
    assert torch.allclose(ours, theirs, atol=1e-6)
    assert torch.allclose(ours_grad, model.deberta.embeddings.word_embeddings.weight.grad,
                          atol=1e-6)
