"""Wilson score intervals of the published shares."""

import numpy as np
import pytest

from mh_assets.core.publish.intervals import Z95, format_interval, wilson_interval


def test_wilson_interval_matches_hand_computed_cases():
    # 24 of 30 by the textbook form (x + z²/2)/(n + z²) ± z/(n + z²)·sqrt(x(n-x)/n + z²/4)
    low, high = wilson_interval(24, 30)
    assert (float(low), float(high)) == pytest.approx((0.626943, 0.904949), abs=1e-6)
    # 0 of 10 and 10 of 10 have closed forms: [0, z²/(n+z²)] and [n/(n+z²), 1]
    z2 = Z95 ** 2
    low, high = wilson_interval(np.array([0, 10]), np.array([10, 10]))
    assert low.tolist() == pytest.approx([0.0, 10 / (10 + z2)])
    assert high.tolist() == pytest.approx([z2 / (10 + z2), 1.0])
    assert Z95 == pytest.approx(1.959964, abs=1e-6)


def test_an_empty_denominator_has_no_interval():
    low, high = wilson_interval(np.array([0, 3]), np.array([0, 9]))
    assert np.isnan(low[0]) and np.isnan(high[0]) and 0 < low[1] < 3 / 9 < high[1] < 1
    assert format_interval(float(low[0]), float(high[0]), 1) == ""
    assert format_interval(0.59987, 0.62714, 2) == "0.60–0.63"


def test_z95_literal_is_scipys_normal_quantile():
    from scipy.stats import norm

    assert Z95 == float(norm.ppf(0.975))
