import numpy as np
import pytest
from scipy import stats as scipy_stats

from imitlab.evaluation.stats import (
    hierarchical_bootstrap_interval,
    mcnemar_exact_p,
    paired_over_seeds,
    success_over_seeds,
    t_quantile,
    wilson_interval,
)


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


# --------------------------------------------------------------------------------------------------------------
# several training seeds


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 9, 30])
def test_t_quantile_matches_scipy(df):
    assert t_quantile(0.95, df) == pytest.approx(scipy_stats.t.ppf(0.975, df), rel=1e-9)


def simulated_studies(studies: int, seeds: int, episodes: int, a: float, b: float, rng_seed: int = 1):
    """(studies, seeds) success counts of a method whose training seeds succeed with p ~ Beta(a, b) each."""
    rng = np.random.default_rng(rng_seed)
    return rng.binomial(episodes, rng.beta(a, b, size=(studies, seeds)))


def test_hierarchical_interval_covers_the_mean_over_training_seeds_about_95_percent_of_the_time():
    # 5 training seeds whose policies succeed 60% of the time on average but anywhere from ~20% to ~95%
    counts = simulated_studies(studies=400, seeds=5, episodes=100, a=3.0, b=2.0)
    true_mean = 3.0 / (3.0 + 2.0)
    covered = [
        lo <= true_mean <= hi
        for i, k in enumerate(counts)
        for lo, hi in [hierarchical_bootstrap_interval(k, [100] * 5, resamples=2000, seed=i)]
    ]
    assert np.mean(covered) == pytest.approx(0.95, abs=0.03)


def test_pooled_wilson_under_covers_and_is_narrower_when_training_seeds_disagree():
    counts = simulated_studies(studies=200, seeds=5, episodes=100, a=3.0, b=2.0)
    true_mean = 0.6
    wilson = [wilson_interval(int(k.sum()), 500) for k in counts]
    seeded = [success_over_seeds(k, [100] * 5, resamples=2000, seed=i) for i, k in enumerate(counts)]
    assert np.mean([lo <= true_mean <= hi for lo, hi in wilson]) < 0.6
    assert all(s.high - s.low > hi - lo for s, (lo, hi) in zip(seeded, wilson))


def test_the_issues_four_seeds_give_an_interval_far_wider_than_pooled_wilson():
    # bc at 10 demos on pendulum, training seeds 1, 2, 5, 6: 100, 44, 36, 66 successes of 100
    pooled_low, pooled_high = wilson_interval(246, 400)
    s = success_over_seeds([100, 44, 36, 66], [100] * 4)
    assert s.rate == pytest.approx(0.615)
    assert s.low < 0.40 and s.high > 0.90
    assert s.high - s.low > 3 * (pooled_high - pooled_low)


def test_with_many_episodes_per_seed_the_hierarchical_interval_is_the_t_interval_over_seeds():
    # evaluation noise negligible: only the seeds vary, and the t interval of their mean is the reference
    rates = np.array([0.31, 0.55, 0.62, 0.48, 0.83, 0.7])
    n = 10**7
    low, high = hierarchical_bootstrap_interval((rates * n).astype(int), [n] * len(rates), resamples=50_000)
    expected = scipy_stats.t.interval(0.95, len(rates) - 1, rates.mean(), scipy_stats.sem(rates))
    assert low == pytest.approx(expected[0], abs=0.03)
    assert high == pytest.approx(expected[1], abs=0.03)


def test_one_training_seed_keeps_the_wilson_interval_of_that_policy():
    s = success_over_seeds([59], [100])
    assert (s.low, s.high) == wilson_interval(59, 100)
    assert s.seeds == 1 and s.per_seed == (0.59,)


def test_seeds_that_agree_perfectly_still_get_the_pooled_wilson_interval():
    s = success_over_seeds([100, 100, 100], [100, 100, 100])
    assert s.rate == 1.0
    low, high = wilson_interval(300, 300)
    assert s.low == low and s.high == pytest.approx(high)


def test_seed_intervals_reject_impossible_counts_with_the_counts_in_the_message():
    with pytest.raises(ValueError, match=r"\[101\]"):
        success_over_seeds([101], [100])
    with pytest.raises(ValueError, match="at least 2 seeds"):
        hierarchical_bootstrap_interval([5], [10])


def test_paired_comparison_counts_the_seeds_favouring_each_method():
    a = [np.array([1, 1, 0, 0], bool), np.array([1, 0, 0, 0], bool), np.array([1, 1, 1, 0], bool)]
    b = [np.array([1, 0, 0, 0], bool), np.array([1, 0, 0, 0], bool), np.array([1, 1, 1, 1], bool)]
    p = paired_over_seeds(a, b)
    assert (p.a_better, p.ties, p.b_better) == (1, 1, 1)
    assert p.per_seed == (0.25, 0.0, -0.25)
    assert p.difference == pytest.approx(0.0)
    assert p.mcnemar_p == tuple(mcnemar_exact_p(x, y) for x, y in zip(a, b))
    assert p.low < 0 < p.high


def test_paired_interval_covers_the_mean_difference_about_95_percent_of_the_time():
    # per training seed, a succeeds with p_a ~ Beta(3, 2) and b with p_b ~ Beta(2, 3), on the same evaluation seeds
    # (one uniform draw per episode decides both): the mean difference over seeds is 0.6 - 0.4 = 0.2
    rng = np.random.default_rng(3)
    covered = []
    for i in range(300):
        pa, pb = rng.beta(3, 2, size=5), rng.beta(2, 3, size=5)
        u = rng.random((5, 100))
        p = paired_over_seeds(list(u < pa[:, None]), list(u < pb[:, None]), resamples=2000, seed=i)
        covered.append(p.low <= 0.2 <= p.high)
    assert np.mean(covered) == pytest.approx(0.95, abs=0.03)


def test_paired_comparison_of_one_training_seed_has_no_interval_but_keeps_mcnemar():
    a, b = [np.array([1, 1, 1, 0], bool)], [np.array([0, 0, 1, 0], bool)]
    p = paired_over_seeds(a, b)
    assert p.difference == pytest.approx(0.5)
    assert np.isnan(p.low) and np.isnan(p.high)
    assert p.mcnemar_p == (mcnemar_exact_p(a[0], b[0]),)
