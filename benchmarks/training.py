"""Training and embedding throughput: the study's way against the platform's way.

The study padded every text to 256 tokens, trained in fp32 and fed batches in random
order. The platform pads each batch only to its longest text, groups texts of
similar length into batches, and trains in bf16 where the GPU supports it. This
script measures, on a synthetic corpus it generates, for one backbone:

* masked-LM training: non-padding tokens per second,
* contrastive training: non-padding tokens per second (both views),
* embedding: non-padding tokens and patients per second,

each the study's way and the platform's way, with identical models, data, batch
sizes and truncation, and prints both and their ratio (platform / study). Throughput
counts only real (non-padding) tokens, so padding shows up as lost speed rather than
as free work. Beside throughput every stage reports its wall seconds (model built,
data tokenized, warm-up and timed steps: the same work both ways) and, on a CUDA GPU,
its peak allocated GPU memory (``torch.cuda.max_memory_allocated``, reset before
each measurement; ``null`` / "n/a" on CPU).

    python benchmarks/training.py --backbone demo --patients 2000 --steps 20
    python benchmarks/training.py --backbone paper-arch --sexes female,male \\
        --patients 2500 --embed-patients 2500 --steps 50 --warmup 5 --json gpu.json  # GPU

Without ``--sexes`` the corpus is the small toy corpus (``toy_corpus``, about 25
tokens a text); with ``--sexes`` each named sex gets ``--patients`` patients of its
own descriptor corpus, cut from a synthetic extract taken through the ingest stages
(``synthetic_corpora``: the real descriptor texts and lengths), with its own domain
tokenizer, as the platform trains each sex partition. ``benchmarks/gpu.sh`` sets up
a CUDA environment and runs the second line.

``paper-arch`` is microsoft/deberta-v3-base's architecture (hidden 768, 12 layers,
12 heads, vocabulary 128,100, relative attention) randomly initialised: throughput
does not depend on the weights, and nothing is downloaded.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
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
STAGES = {"mlm": "MLM training", "contrastive": "contrastive training", "embedding": "embedding"}
TOY = "toy"  # the corpus name when no sex is asked for


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

    def on_train_begin(self, args, state, control, **kw):
        if self.warmup == 0:  # no step ends at step 0: timing starts with training
            self.start, self.tokens_start = self._now(), state.num_input_tokens_seen

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


def benchmark_corpora(patients: int, seed: int, sexes: list[str] | None) -> dict[str, pl.DataFrame]:
    """The corpora to measure: the toy corpus, or ``patients`` patients of each sex's
    descriptor corpus from a synthetic extract (grown until every sex has enough)."""
    if not sexes:
        return {TOY: toy_corpus(patients, seed=seed)}
    from mh_assets.core.synthetic import SyntheticSpec
    from mh_assets.core.synthetic.cohorts import synthetic_corpora

    rows = math.ceil(patients * 2.2) + 50  # about 45-49 % of an extract's patients per sex
    for _attempt in range(6):
        corpora = synthetic_corpora(SyntheticSpec(patients=rows, seed=seed))
        if all(corpora[sex].corpus.height >= patients for sex in sexes):
            return {sex: corpora[sex].corpus.head(patients) for sex in sexes}
        rows *= 2
    raise RuntimeError(f"a synthetic extract of {rows:,} patients had too few of some sex")


def _arguments(config, device, lr, batch_size, steps, warmup, workdir):
    args = runtime.training_arguments(
        config, state_dir=workdir, device=device, learning_rate=lr, epochs=1,
        batch_size=batch_size, evaluate=False,
    )  # fmt: skip
    return dataclasses.replace(args, max_steps=warmup + steps, save_strategy="no")


def measure_mlm(new_model, tokenizer, texts, config, device, steps, warmup, workdir) -> dict:
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
    return {"tokens_per_s": timer.tokens_per_second}


def measure_contrastive(
    new_model, tokenizer, corpus, config, device, steps, warmup, workdir
) -> dict:
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
    return {"tokens_per_s": timer.tokens_per_second}


def measure_embedding(new_model, tokenizer, texts, config, device, batch_size) -> dict:
    runtime.seed_everything(config, device)
    model = PatientEncoder(new_model().base_model, config.projection_dim).to(device).eval()
    encode(model, tokenizer, texts[: batch_size * 2], config, batch_size, device)  # warm-up
    tokens = sum(
        tokenizer(texts, truncation=True, max_length=config.max_length, return_length=True)[
            "length"
        ]
    )
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    encode(model, tokenizer, texts, config, batch_size, device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    return {"tokens_per_s": tokens / seconds, "patients_per_s": len(texts) / seconds}


def measured(device: torch.device, run: Callable[[], dict]) -> dict:
    """``run``'s figures plus its wall seconds and, on CUDA, its peak allocated GPU
    memory in MiB (the previous measurement's memory freed and the peak reset first)."""
    cuda = device.type == "cuda"
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    figures = run()
    if cuda:
        torch.cuda.synchronize(device)
    figures["wall_s"] = time.perf_counter() - started
    figures["peak_gpu_mib"] = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None
    return figures


def _warm_up_cuda(device: torch.device) -> None:
    """Start CUDA and cuBLAS before the first measurement so its wall time is the stage's."""
    if device.type == "cuda":
        x = torch.randn(256, 256, device=device)
        (x @ x).sum().item()
        torch.cuda.synchronize(device)


def _ratio(platform: float | None, study: float | None) -> float | None:
    if platform is None or study is None or study == 0:
        return None
    return round(platform / study, 3)


def _rounded(figures: dict) -> dict:
    digits = {"wall_s": 2, "peak_gpu_mib": 1}
    return {k: None if v is None else round(v, digits.get(k, 1)) for k, v in figures.items()}


def _sexes(value: str) -> list[str]:
    sexes = [s.strip() for s in value.split(",") if s.strip()]
    unknown = [s for s in sexes if s not in schema.SEXES]
    if unknown or not sexes:
        raise argparse.ArgumentTypeError(
            f"{value!r}: expected a comma-separated list of {', '.join(schema.SEXES)}"
        )
    return list(dict.fromkeys(sexes))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", choices=BACKBONES, default="demo")
    parser.add_argument(
        "--patients", type=int, default=2000,
        help="synthetic corpus size (per sex with --sexes)",
    )  # fmt: skip
    parser.add_argument(
        "--sexes", type=_sexes, default=None,
        help="e.g. female,male: one corpus per sex from a synthetic extract "
        "(default: the toy corpus)",
    )  # fmt: skip
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
    if args.steps < 1 or args.warmup < 0 or args.patients < 2 or args.embed_patients < 1:
        parser.error("--steps >= 1, --warmup >= 0, --patients >= 2, --embed-patients >= 1")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    preset = {"demo": "demo", "minilm": "minilm", "paper-arch": "paper"}[args.backbone]
    overrides = {"seed": args.seed}
    if args.threads is not None:
        overrides["torch_threads"] = args.threads
    if args.backbone != "minilm":  # weights are built here, never loaded
        overrides.update(backbone="scratch", model_name=None)
    base = preset_config(preset, **overrides)
    runtime.prepare_process(base)
    device = choose_device(print)
    cuda = device.type == "cuda"
    bf16 = runtime.use_bf16(way_config("platform", base), device)
    gpu = torch.cuda.get_device_name(device) if cuda else None
    no_gpu = "none -- no CUDA GPU visible: running on CPU, bf16 off, peak GPU memory n/a"
    print(
        f"GPU: {gpu or no_gpu}"
        f" · torch {torch.__version__} · CUDA {torch.version.cuda or 'none (CPU build)'}"
        f" · platform bf16: {'on' if bf16 else 'off'}",
        flush=True,
    )
    _warm_up_cuda(device)
    corpora = benchmark_corpora(args.patients, args.seed, args.sexes)
    report = {
        "backbone": args.backbone,
        "device": describe_device(device),
        "cuda_available": cuda,
        "gpu": gpu,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "bf16": bf16,
        "corpus": "synthetic extract, per sex" if args.sexes else "toy corpus",
        "patients": args.patients,
        "steps": args.steps,
        "warmup": args.warmup,
        "batch_sizes": {
            "mlm": base.mlm_batch_size,
            "contrastive": base.contrastive_batch_size,
            "embedding": base.embed_batch_size,
        },
        "ways": WAYS,
        "corpora": {},
        "versions": library_versions(),
    }
    run_started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, corpus in corpora.items():
            report["corpora"][name] = measure_corpus(name, corpus, args, base, device, Path(tmp))
    report["total_wall_s"] = round(time.perf_counter() - run_started, 1)
    _print_tables(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
        print(f"figures written to {args.json}")
    return report


def measure_corpus(name, corpus, args, base, device, workdir: Path) -> dict:
    """Every stage, both ways, on one corpus (its own tokenizer)."""
    texts = corpus[schema.TEXT].to_list()
    tokenizer, new_model = build_backbone(args.backbone, texts, base)
    lengths = np.asarray(
        tokenizer(texts, truncation=True, max_length=256, return_length=True)["length"]
    )
    print(
        f"\n{name}: backbone {args.backbone} · {len(texts):,} synthetic patients · "
        f"{lengths.mean():.0f} tokens per text on average (max {lengths.max()}) · "
        f"batch {base.mlm_batch_size} (MLM) / {base.contrastive_batch_size} (contrastive) · "
        f"{args.steps} timed steps after {args.warmup} warm-up",
        flush=True,
    )
    embed_texts = texts[: args.embed_patients]
    stages: dict[str, dict] = {stage: {} for stage in STAGES}
    for way in WAYS:
        config = way_config(way, base)
        print(f"  measuring the {way} way ({WAYS[way]}) ...", flush=True)
        runs = {
            "mlm": lambda: measure_mlm(
                new_model, tokenizer, texts, config, device, args.steps, args.warmup, workdir
            ),
            "contrastive": lambda: measure_contrastive(
                new_model, tokenizer, corpus, config, device, args.steps, args.warmup, workdir
            ),
            "embedding": lambda: measure_embedding(
                new_model, tokenizer, embed_texts, config, device, base.embed_batch_size
            ),
        }
        for stage, run in runs.items():
            stages[stage][way] = _rounded(measured(device, run))
    for figures in stages.values():
        figures["ratio"] = {
            key: _ratio(figures["platform"][key], figures["study"][key]) for key in figures["study"]
        }
    return {
        "patients": len(texts),
        "embedded_patients": len(embed_texts),
        "mean_tokens_per_text": round(float(lengths.mean()), 1),
        "max_tokens_per_text": int(lengths.max()),
        "stages": stages,
    }


def _cell(row: dict, key: str, ratio: bool) -> str:
    """A table cell: blank where a stage has no such figure, n/a where it is null."""
    if key not in row:
        return ""
    if row[key] is None:
        return "n/a"
    if ratio:
        return f"{row[key]:.2f}x"
    return f"{row[key]:.2f}" if key == "wall_s" else f"{row[key]:,.0f}"


def _print_tables(report: dict) -> None:
    gpu = report["gpu"] or "none (no CUDA GPU visible)"
    print(
        f"\ndevice: {report['device']} · GPU: {gpu} · torch {report['torch']} · "
        f"CUDA {report['cuda'] or 'none'} · platform bf16: {report['bf16']}"
    )
    print("ratio = platform / study (throughput: > 1 is faster; wall and memory: < 1 is less)")
    columns = {"tokens_per_s": "tokens/s", "patients_per_s": "patients/s",
               "wall_s": "wall s", "peak_gpu_mib": "peak GPU MiB"}  # fmt: skip
    header = f"{'stage':22}{'way':10}" + "".join(f"{c:>14}" for c in columns.values())
    for name, result in report["corpora"].items():
        print(
            f"\n{name} ({result['patients']:,} patients, "
            f"{result['mean_tokens_per_text']:.0f} tokens per text)"
        )
        print(header)
        for stage, label in STAGES.items():
            for way in (*WAYS, "ratio"):
                row = result["stages"][stage][way]
                cells = "".join(f"{_cell(row, key, way == 'ratio'):>14}" for key in columns)
                print(f"{label if way == 'study' else '':22}{way:10}{cells}")
    print(f"\ntotal {report['total_wall_s']} s")


if __name__ == "__main__":
    main(sys.argv[1:])
