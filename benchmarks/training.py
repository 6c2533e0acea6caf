"""Training and embedding throughput: the study's way against the platform's way.

The study padded every text to 256 tokens, trained in fp32 and fed batches in random
order. The platform pads each batch only to its longest text, groups texts of
similar length into batches, and trains in bf16 where the GPU supports it. This
script measures, on a synthetic corpus it generates, for one backbone:

* masked-LM training: non-padding tokens per second,
* contrastive training: non-padding tokens per second (both views),
* embedding: patients per second,

each the study's way and the platform's way, with identical models, data, batch
sizes and truncation, and prints both and their ratio. Throughput counts only real
(non-padding) tokens, so padding shows up as lost speed rather than as free work.

    python benchmarks/training.py --backbone demo --patients 2000 --steps 20
    python benchmarks/training.py --backbone paper-arch --patients 4000 --steps 30   # on a GPU

``paper-arch`` is microsoft/deberta-v3-base's architecture (hidden 768, 12 layers,
12 heads, vocabulary 128,100, relative attention) randomly initialised: throughput
does not depend on the weights, and nothing is downloaded.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForMaskedLM, DebertaV2ForMaskedLM, TrainerCallback

from mh_assets.core import schema
from mh_assets.core.modelling import preset_config, runtime
from mh_assets.core.modelling.augment import make_views
from mh_assets.core.modelling.backbone import deberta_config, paper_architecture
from mh_assets.core.modelling.config import TrainingConfig
from mh_assets.core.modelling.contrastive import EpochViews, PairCollator, PatientEncoder
from mh_assets.core.modelling.device import choose_device
from mh_assets.core.modelling.embed import encode
from mh_assets.core.modelling.mlm import MaskOrPad, build_datasets
from mh_assets.core.modelling.summary import describe_device, library_versions
from mh_assets.core.modelling.tokenizer import load_tokenizer, train_domain_tokenizer
from mh_assets.core.modelling.toy_corpus import toy_corpus
from mh_assets.core.modelling.weights import minilm_dir

BACKBONES = ("demo", "minilm", "paper-arch")
WAYS = {
    "study": "pad to 256, fp32, random batches",
    "platform": "dynamic padding, length-grouped, bf16 where supported",
}


class StepTimer(TrainerCallback):
    """Times optimizer steps after a warm-up; counts the non-padding tokens they saw."""

    def __init__(self, warmup: int, device: torch.device):
        self.warmup, self.device = warmup, device
        self.start = self.end = 0.0
        self.tokens_start = self.tokens_end = 0

    def _now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.warmup:
            self.start, self.tokens_start = self._now(), state.num_input_tokens_seen
        if state.global_step == state.max_steps:
            self.end, self.tokens_end = self._now(), state.num_input_tokens_seen

    @property
    def tokens_per_second(self) -> float:
        return (self.tokens_end - self.tokens_start) / (self.end - self.start)


def way_config(way: str, base: TrainingConfig) -> TrainingConfig:
    if way == "study":
        return base.replace(
            pad_to_max_length=True, group_by_length=False, bf16=False, max_length=256
        )
    return base.replace(pad_to_max_length=False, group_by_length=True, bf16="auto", max_length=256)


def build_backbone(name: str, texts: list[str], base: TrainingConfig):
    """(tokenizer, a function returning a freshly initialised masked-LM model)."""
    if name == "minilm":
        path = minilm_dir()
        tokenizer = load_tokenizer(path, 256)
        return tokenizer, lambda: AutoModelForMaskedLM.from_pretrained(
            str(path), local_files_only=True
        )
    tokenizer = train_domain_tokenizer(texts, base.tokenizer_vocab_size, 256)
    if name == "paper-arch":
        return tokenizer, lambda: DebertaV2ForMaskedLM(paper_architecture())
    arch = deberta_config(
        len(tokenizer), base.hidden_size, base.num_hidden_layers, base.num_attention_heads,
        base.intermediate_size, 256, tokenizer.pad_token_id, base.position_buckets,
    )  # fmt: skip
    return tokenizer, lambda: DebertaV2ForMaskedLM(arch)


def _arguments(config, device, lr, batch_size, steps, warmup, workdir):
    args = runtime.training_arguments(
        config, state_dir=workdir, device=device, learning_rate=lr, epochs=1,
        batch_size=batch_size, evaluate=False,
    )  # fmt: skip
    return dataclasses.replace(args, max_steps=warmup + steps, save_strategy="no")


def measure_mlm(new_model, tokenizer, texts, config, device, steps, warmup, workdir) -> float:
    runtime.seed_everything(config, device)
    train_set, _, lengths = build_datasets(texts, tokenizer, config)
    timer = StepTimer(warmup, device)
    trainer = runtime.LengthGroupedTrainer(
        model=new_model(),
        args=_arguments(
            config, device, config.mlm_lr, config.mlm_batch_size, steps, warmup, workdir
        ),
        train_dataset=train_set,
        data_collator=MaskOrPad(tokenizer, config.mlm_probability),
        callbacks=[timer],
        lengths=lengths,
    )
    trainer.train()
    return timer.tokens_per_second


def measure_contrastive(
    new_model, tokenizer, corpus, config, device, steps, warmup, workdir
) -> float:
    runtime.seed_everything(config, device)
    texts = corpus[schema.TEXT].to_list()
    views = make_views(corpus, config.augmentation, config.max_dropped_codes, config.seed, 0)
    lengths = tokenizer(
        texts, truncation=True, max_length=config.max_length, return_length=True
    )["length"]
    model = PatientEncoder(new_model().base_model, config.projection_dim, config.temperature)
    timer = StepTimer(warmup, device)
    trainer = runtime.LengthGroupedTrainer(
        model=model,
        args=_arguments(
            config, device, config.contrastive_lr, config.contrastive_batch_size,
            steps, warmup, workdir,
        ),  # fmt: skip
        train_dataset=EpochViews([views]),
        data_collator=PairCollator(tokenizer, config.max_length, config.pad_to_max_length),
        callbacks=[timer],
        lengths=lengths,
    )
    trainer.train()
    return timer.tokens_per_second


def measure_embedding(new_model, tokenizer, texts, config, device, batch_size) -> float:
    runtime.seed_everything(config, device)
    model = PatientEncoder(new_model().base_model, config.projection_dim).to(device).eval()
    encode(model, tokenizer, texts[: batch_size * 2], config, batch_size, device)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    encode(model, tokenizer, texts, config, batch_size, device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return len(texts) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", choices=BACKBONES, default="demo")
    parser.add_argument("--patients", type=int, default=2000, help="synthetic corpus size")
    parser.add_argument(
        "--steps", type=int, default=20, help="timed optimizer steps per measurement"
    )
    parser.add_argument(
        "--warmup", type=int, default=3, help="untimed optimizer steps before timing"
    )
    parser.add_argument(
        "--embed-patients", type=int, default=1000, help="patients embedded per measurement"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (0: torch's default; default: the preset's)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    preset = {"demo": "demo", "minilm": "minilm", "paper-arch": "paper"}[args.backbone]
    overrides = {"seed": args.seed}
    if args.threads is not None:
        overrides["torch_threads"] = args.threads
    if args.backbone != "minilm":  # weights are built here, never loaded
        overrides.update(backbone="scratch", model_name=None)
    base = preset_config(preset, **overrides)
    runtime.prepare_process(base)
    device = choose_device(print)
    corpus = toy_corpus(args.patients, seed=args.seed)
    texts = corpus[schema.TEXT].to_list()
    tokenizer, new_model = build_backbone(args.backbone, texts, base)
    lengths = np.asarray(
        tokenizer(texts, truncation=True, max_length=256, return_length=True)["length"]
    )
    print(
        f"backbone {args.backbone} · {args.patients:,} synthetic patients · "
        f"{lengths.mean():.0f} tokens per text on average (max {lengths.max()}) · "
        f"batch {base.mlm_batch_size} (MLM) / {base.contrastive_batch_size} (contrastive) · "
        f"{args.steps} timed steps after {args.warmup} warm-up"
    )
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for way in WAYS:
            config = way_config(way, base)
            print(f"measuring the {way} way ({WAYS[way]}) ...", flush=True)
            results[way] = {
                "mlm_tokens_per_s": measure_mlm(
                    new_model, tokenizer, texts, config, device, args.steps, args.warmup, Path(tmp)
                ),
                "contrastive_tokens_per_s": measure_contrastive(
                    new_model, tokenizer, corpus, config, device, args.steps, args.warmup, Path(tmp)
                ),
                "embed_patients_per_s": measure_embedding(
                    new_model, tokenizer, texts[: args.embed_patients], config, device,
                    base.embed_batch_size,
                ),  # fmt: skip
            }
    report = {
        "backbone": args.backbone,
        "device": describe_device(device),
        "bf16": runtime.use_bf16(way_config("platform", base), device),
        "patients": args.patients,
        "mean_tokens_per_text": round(float(lengths.mean()), 1),
        "steps": args.steps,
        "results": {way: {k: round(v, 1) for k, v in r.items()} for way, r in results.items()},
        "speedup": {
            k: round(results["platform"][k] / results["study"][k], 2) for k in results["study"]
        },
        "versions": library_versions(),
    }
    _print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


def _print_table(report: dict) -> None:
    rows = [
        ("MLM training", "mlm_tokens_per_s", "tokens/s"),
        ("contrastive training", "contrastive_tokens_per_s", "tokens/s"),
        ("embedding", "embed_patients_per_s", "patients/s"),
    ]
    print(f"\ndevice: {report['device']} · platform bf16: {report['bf16']}")
    print(f"{'':22}{'study':>11}{'':12}{'platform':>11}{'':12}{'speed-up':>7}")
    for label, key, unit in rows:
        study, platform = report["results"]["study"][key], report["results"]["platform"][key]
        speedup = report["speedup"][key]
        print(f"{label:22}{study:>11,.0f} {unit:<11}{platform:>11,.0f} {unit:<11}{speedup:>6.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
