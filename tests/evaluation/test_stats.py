import numpy as np
import pytest
from scipy import stats as scipy_stats

from imitlab.evaluation.stats import mcnemar_exact_p, wilson_interval


@pytest.mark.parametrize("successes,n", [(0, 10), (3, 10), (10, 10), (57, 100), (99, 100), (1, 1)])
def test_wilson_interval_matches_scipy(successes, n):
    expected = scipy_stats.binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson_interval(successes, n)
    assert low == pytest.approx(expected.low, abs=1e-9)
    assert high == pytest.approx(expected.high, abs=1e-9)


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)
    with pytest.raises(ValueError, match="n must be positive"):
        wilson_interval(0, 0)


def test_mcnemar_matches_binomial_test_on_discordant_pairs():
    rng = np.random.default_rng(0)
    a = rng.random(100) < 0.7
    b = rng.random(100) < 0.4
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    expected = scipy_stats.binomtest(only_a, only_a + only_b, 0.5).pvalue
    assert mcnemar_exact_p(a, b) == pytest.approx(expected, rel=1e-9)


def test_mcnemar_of_identical_outcomes_is_one():
    a = np.array([True, False, True])
    assert mcnemar_exact_p(a, a) == 1.0
