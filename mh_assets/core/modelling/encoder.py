"""The patient encoder: transformer, mean pooling over the attention mask, projection.

Its training objective lives here too: symmetric NT-Xent with in-batch negatives.
Row i of view A and row i of view B are the same patient (a positive pair); every
other row of the batch is a negative. The loss is cross-entropy over the batch's
cosine similarities divided by the temperature (0.05, i.e. scale 20), averaged over
both directions (A -> B and B -> A) -- sentence-transformers'
``MultipleNegativesSymmetricRankingLoss`` with scale 20, written out because that
library's trainer needs the ``datasets`` package, which the platform does not install.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average of the token states that are not padding."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def symmetric_nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Row i of ``a`` and row i of ``b`` are positives; every other row is a negative."""
    logits = F.normalize(a.float(), dim=-1) @ F.normalize(b.float(), dim=-1).T / temperature
    target = torch.arange(a.shape[0], device=a.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


class PatientEncoder(nn.Module):
    """Encoder + mean pooling + linear projection; ``forward`` returns the training loss.

    Both views of a batch go through the encoder in one stacked forward pass, so the
    dropout noise differs between them -- all that ``dropout_only`` (SimCSE) needs.
    """

    main_input_name = "input_ids"

    def __init__(self, encoder: PreTrainedModel, projection_dim: int, temperature: float = 0.05):
        super().__init__()
        self.encoder = encoder
        self.projection = nn.Linear(encoder.config.hidden_size, projection_dim)
        self.temperature = temperature

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.projection(mean_pool(hidden, attention_mask))

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Rows ``[:n]`` are view A of n patients, rows ``[n:]`` view B of the same patients."""
        view_a, view_b = self.embed(input_ids, attention_mask).chunk(2)
        return {"loss": symmetric_nt_xent(view_a, view_b, self.temperature)}
