"""Wilson score intervals for the published shares (percentages of patients).

Why Wilson: the normal (Wald) interval collapses to a point at 0% and 100% and
undercovers for the small shares that fill these tables; Wilson's interval stays
inside [0, 100] and keeps close to nominal coverage (Brown, Cai & DasGupta 2001).
For x of n with p = x / n and z the normal quantile::

    centre = (p + z²/2n) / (1 + z²/n)
    half   = z / (1 + z²/n) * sqrt(p(1 - p)/n + z²/4n²)

An interval of a hidden count reveals it (its width pins n, its centre x), so a
published CI is suppressed exactly like the share it belongs to.
"""

from __future__ import annotations

import numpy as np

#: the normal 97.5% quantile, scipy.stats.norm.ppf(0.975) (a literal: importing scipy.stats
#: costs ~0.3 s of the code location's load; a test keeps the two equal)
Z95 = 1.959963984540054


def wilson_interval(
    successes: np.ndarray | float, n: np.ndarray | float, z: float = Z95
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds, as proportions in [0, 1]; NaN where ``n`` is 0."""
    x = np.asarray(successes, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        z2n = z * z / n
        centre = (p + z2n / 2) / (1 + z2n)
        half = z / (1 + z2n) * np.sqrt(p * (1 - p) / n + z2n / (4 * n))
    low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return low, high


def format_interval(low: float | None, high: float | None, decimals: int) -> str:
    """``"59.99–62.72"`` (an en dash); empty when either bound is missing."""
    if low is None or high is None or np.isnan(low) or np.isnan(high):
        return ""
    return f"{low:.{decimals}f}–{high:.{decimals}f}"
