"""Resumable training state: per-epoch checkpoints guarded by a fingerprint.

Crash recovery works through ``state_dir``: the Trainer writes a checkpoint there at
the end of every epoch (weights, optimizer, scheduler, RNG states), and a re-run
resumes from the newest *complete* one. A fingerprint of the settings and the inputs
guards the directory, so a run with different settings or data starts over instead
of resuming someone else's half-trained model. The finished model goes to the
caller's ``output_dir`` (renamed into place atomically by the caller); the state is
then deleted. The state is owner-only, like the checkpoint (directories 0700, files
0600): :class:`~.runtime.OwnerOnlyState` re-applies that after every save of the Trainer,
which writes its files with the process's default permissions.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from ..storage import OWNER_DIR, sha256_file
from .config import TrainingConfig

FINGERPRINT_FILE = "fingerprint.txt"
SUMMARY_FILE = "training_summary.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# Settings that change neither the trained weights nor the data order.
_NOT_FINGERPRINTED = {
    "progress_interval_s", "keep_state", "save_total_limit", "embed_batch_size", "torch_threads",
}  # fmt: skip


def texts_sha256(texts: Iterable[str]) -> str:
    """A content hash of the training texts (a hash only: safe for metadata)."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def checkpoint_hash(model_dir: Path) -> str:
    """Content hash of a checkpoint's model files (names and bytes, sorted).

    Like :func:`mh_assets.core.storage.sha256_dir` but without the training
    summary, whose timings differ between otherwise identical runs: two runs that
    produce the same weights get the same hash.
    """
    root = Path(model_dir)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file() and p.name != SUMMARY_FILE):
        digest.update(str(file.relative_to(root)).encode())
        digest.update(sha256_file(file).encode())
    return digest.hexdigest()


def fingerprint(stage: str, config: TrainingConfig, *inputs: str) -> str:
    """What must match for saved state to be resumed: stage, settings, input hashes."""
    settings = {k: v for k, v in config.hyperparameters().items() if k not in _NOT_FINGERPRINTED}
    payload = json.dumps({"stage": stage, "settings": settings, "inputs": inputs}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def open_state(state_dir: Path, key: str, log: Callable[[str], None]) -> Path | None:
    """Prepare ``state_dir`` for a run; return the newest complete checkpoint to resume.

    A checkpoint is complete once its ``trainer_state.json`` exists (the Trainer writes
    it last); a half-written one from a run killed while saving is removed.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    marker = state_dir / FINGERPRINT_FILE
    if marker.exists() and marker.read_text().strip() != key:
        log("discarding saved training state: the settings or the data changed")
        clear_state(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(OWNER_DIR)
    marker.write_text(key)
    complete: list[tuple[int, Path]] = []
    for path in state_dir.iterdir():
        match = _CHECKPOINT.match(path.name)
        if not match or not path.is_dir():
            continue
        if (path / "trainer_state.json").is_file():
            complete.append((int(match.group(1)), path))
        else:
            shutil.rmtree(path, ignore_errors=True)
    return max(complete)[1] if complete else None


def clear_state(state_dir: Path) -> None:
    shutil.rmtree(state_dir, ignore_errors=True)
