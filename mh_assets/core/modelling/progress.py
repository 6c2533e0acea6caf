"""Training progress as plain log lines: loss per epoch, tokens/second and an ETA.

The callback only ever sees counts and losses -- never a batch -- so nothing
patient-level can reach the log. It also measures the training throughput the
summaries report: non-padding tokens per second of time spent in training steps
(evaluation and checkpoint writing excluded), so pad-to-max and dynamic padding are
compared on the tokens that carry information.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments


class ProgressCallback(TrainerCallback):
    """Reports through ``log``; accumulates ``train_seconds`` and ``train_tokens``."""

    def __init__(self, stage: str, log: Callable[[str], None], interval_s: float = 60.0):
        self.stage = stage
        self.log = log
        self.interval_s = interval_s
        self.train_seconds = 0.0
        self.train_tokens = 0
        self.resumed_from_step = 0
        self._begin = self._epoch_begin = self._last_report = 0.0
        self._epoch_tokens = 0
        self._first_step = 0
        self._epoch_rate = 0.0

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw
    ):
        self._begin = self._last_report = time.perf_counter()
        self._first_step = self.resumed_from_step = state.global_step
        epochs = int(args.num_train_epochs)
        if state.global_step:
            self.log(
                f"{self.stage}: resuming from the checkpoint at epoch "
                f"{round(state.epoch or 0)}/{epochs} "
                f"(step {state.global_step}/{state.max_steps})"
            )
        else:
            self.log(f"{self.stage}: training {epochs} epoch(s), {state.max_steps} optimizer steps")

    def on_epoch_begin(self, args, state, control, **kw):
        self._epoch_begin = time.perf_counter()
        self._epoch_tokens = state.num_input_tokens_seen

    def on_step_end(self, args, state, control, **kw):
        now = time.perf_counter()
        if now - self._last_report < self.interval_s:
            return
        self._last_report = now
        seconds = now - self._epoch_begin
        tokens = state.num_input_tokens_seen - self._epoch_tokens
        rate = tokens / seconds if seconds > 0 else 0.0
        self.log(
            f"{self.stage}: step {state.global_step}/{state.max_steps} · "
            f"epoch {state.epoch:.2f} · "
            f"{rate:,.0f} tokens/s · ETA {self._eta(state)}"
        )

    def on_epoch_end(self, args, state, control, **kw):
        seconds = time.perf_counter() - self._epoch_begin
        tokens = state.num_input_tokens_seen - self._epoch_tokens
        self.train_seconds += seconds
        self.train_tokens += tokens
        self._epoch_rate = tokens / seconds if seconds > 0 else 0.0

    def on_log(self, args, state, control, logs=None, **kw):
        logs = logs or {}
        epoch = f"epoch {round(state.epoch or 0)}/{int(args.num_train_epochs)}"
        if "loss" in logs:
            self.log(
                f"{self.stage} {epoch}: train loss {logs['loss']:.4f} · "
                f"{self._epoch_rate:,.0f} tokens/s · ETA {self._eta(state)}"
            )
        if "eval_loss" in logs:
            self.log(f"{self.stage} {epoch}: eval loss {logs['eval_loss']:.4f}")

    @property
    def tokens_per_second(self) -> float:
        return self.train_tokens / self.train_seconds if self.train_seconds > 0 else 0.0

    def _eta(self, state: TrainerState) -> str:
        done = state.global_step - self._first_step
        if done <= 0:
            return "unknown"
        per_step = (time.perf_counter() - self._begin) / done
        return str(timedelta(seconds=round(per_step * (state.max_steps - state.global_step))))
