import math

import pytest
import torch

from imitlab.policies.schedules import DDIMSampler, DDPMSampler, NoiseSchedule, make_sampler

N = 100


def test_squared_cosine_reaches_pure_noise_at_the_last_training_step():
    s = NoiseSchedule(N, "squared_cosine")
    assert s.alpha_bars[-1] < 1e-5  # x_{N-1} = sqrt(ab) x_0 + sqrt(1 - ab) eps: the signal is gone
    assert s.alpha_bars[0] > 0.999  # and the first step barely perturbs
    assert torch.all(s.alpha_bars[1:] < s.alpha_bars[:-1])


def test_linear_schedule_over_100_steps_ends_at_alpha_bar_0_37_far_from_noise():
    ab_last = float(NoiseSchedule(N, "linear").alpha_bars[-1])
    assert ab_last == pytest.approx(0.364, abs=0.005)  # ~37% of the signal variance left: why we don't use it
    assert ab_last == pytest.approx(math.prod(1 - (1e-4 + i * (0.02 - 1e-4) / 99) for i in range(N)))


def test_squared_cosine_matches_nichol_dhariwal_closed_form_below_the_cap():
    s = NoiseSchedule(N, "squared_cosine")

    def f(t):
        return math.cos((t / N + 0.008) / 1.008 * math.pi / 2) ** 2

    expected = torch.tensor([f(t + 1) / f(0) for t in range(N - 1)], dtype=torch.float64)
    torch.testing.assert_close(s.alpha_bars[:-1], expected)  # the last beta is capped at 0.999
    assert float(s.betas.max()) == pytest.approx(0.999)


def test_add_noise_matches_closed_form_per_sample_step():
    s = NoiseSchedule(N)
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(5, 3, 2, generator=g), torch.randn(5, 3, 2, generator=g)
    t = torch.tensor([0, 10, 50, 98, 99])
    x_t = s.add_noise(x0, eps, t)
    for i, ti in enumerate(t.tolist()):
        ab = float(s.alpha_bars[ti])
        torch.testing.assert_close(x_t[i], math.sqrt(ab) * x0[i] + math.sqrt(1 - ab) * eps[i])


def test_add_noise_keeps_unit_variance_for_unit_variance_data():
    s = NoiseSchedule(N)
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(50_000, 1, generator=g), torch.randn(50_000, 1, generator=g)
    x_t = s.add_noise(x0, eps, torch.full((50_000,), 40))
    assert float(x_t.var()) == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize("n", [1, 3, 7, 10, 33, 99, 100])
def test_trailing_timesteps_start_at_pure_noise_and_strictly_decrease(n):
    sampler = DDIMSampler(NoiseSchedule(N))
    sampler.set_timesteps(n)
    steps = sampler.timesteps.tolist()
    assert len(steps) == n and steps[0] == N - 1 and steps[-1] >= 0
    assert all(a > b for a, b in zip(steps, steps[1:]))
    assert sampler.previous_timestep(steps[-1]) == -1


def test_ten_inference_steps_are_evenly_spaced():
    sampler = DDIMSampler(NoiseSchedule(N))
    sampler.set_timesteps(10)
    assert sampler.timesteps.tolist() == [99, 89, 79, 69, 59, 49, 39, 29, 19, 9]


@pytest.mark.parametrize("n", [0, N + 1])
def test_set_timesteps_rejects_counts_outside_one_to_training_steps(n):
    with pytest.raises(ValueError, match="num_inference_steps"):
        DDIMSampler(NoiseSchedule(N)).set_timesteps(n)


def _x0_and_eps(shape=(4, 6, 2), seed=0):
    g = torch.Generator().manual_seed(seed)
    x0 = (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) * 0.9  # inside the clip range
    return x0, torch.randn(shape, generator=g, dtype=torch.float64)


def test_ddim_step_with_a_perfect_epsilon_oracle_recovers_x0_exactly():
    s = NoiseSchedule(N)
    x0, eps = _x0_and_eps()
    sampler = DDIMSampler(s, clip_sample=1.0, eta=0.0)
    sampler.set_timesteps(1)  # one step from t = N-1 straight to the clean sample
    x_t = s.add_noise(x0, eps, torch.full((x0.shape[0],), N - 1))
    torch.testing.assert_close(sampler.step(eps, N - 1, x_t), x0)


@pytest.mark.parametrize("n", [100, 10, 3])
def test_ddim_eta0_with_oracle_epsilon_stays_on_the_forward_trajectory(n):
    s = NoiseSchedule(N)
    x0, eps = _x0_and_eps()
    sampler = DDIMSampler(s, eta=0.0)
    sampler.set_timesteps(n)
    B = x0.shape[0]
    x = s.add_noise(x0, eps, torch.full((B,), N - 1))
    for t in sampler.timesteps.tolist():
        x = sampler.step(eps, t, x)
        prev = sampler.previous_timestep(t)
        expected = x0 if prev < 0 else s.add_noise(x0, eps, torch.full((B,), prev))
        torch.testing.assert_close(x, expected)


def test_ddim_eta0_with_all_training_steps_is_deterministic():
    s = NoiseSchedule(N)
    sampler = DDIMSampler(s, eta=0.0)
    sampler.set_timesteps(N)
    x_start = torch.randn(8, 4, 2, generator=torch.Generator().manual_seed(0))
    outputs = []
    for seed in (1, 2):  # different generators: eta = 0 must not draw from them
        g = torch.Generator().manual_seed(seed)
        x = x_start.clone()
        for t in sampler.timesteps.tolist():
            x = sampler.step(0.3 * x + 0.1, t, x, generator=g)
        outputs.append(x)
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)


def test_ddpm_step_equals_ddim_step_with_eta_1():
    s = NoiseSchedule(N)
    ddpm, ddim = DDPMSampler(s), DDIMSampler(s, eta=1.0)
    x_t, eps = _x0_and_eps(seed=1)
    x_t = x_t * 3
    for n in (100, 10):
        ddpm.set_timesteps(n)
        ddim.set_timesteps(n)
        for t in ddpm.timesteps.tolist()[:4]:
            a = ddpm.step(eps, t, x_t, torch.Generator().manual_seed(t))
            b = ddim.step(eps, t, x_t, torch.Generator().manual_seed(t))
            torch.testing.assert_close(a, b)


def test_ddpm_with_oracle_epsilon_ends_on_x0():
    s = NoiseSchedule(N)
    x0, eps = _x0_and_eps()
    sampler = DDPMSampler(s)
    sampler.set_timesteps(N)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    for t in sampler.timesteps.tolist():  # the optimal epsilon for data concentrated on x0
        ab = s.alpha_bar(t)
        x = sampler.step((x - math.sqrt(ab) * x0) / math.sqrt(1 - ab), t, x, g)
    torch.testing.assert_close(x, x0)


@pytest.mark.parametrize("kind", ["ddpm", "ddim"])
def test_samplers_with_exact_gaussian_score_reproduce_the_gaussian(kind):
    """Data N(mu, sd²): the exact epsilon is sqrt(1-ab) (x_t - sqrt(ab) mu) / (ab sd² + 1 - ab)."""
    mu, sd = 0.3, 0.2
    s = NoiseSchedule(N)
    sampler = make_sampler(kind, s, clip_sample=None)
    sampler.set_timesteps(N)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20_000, 1, generator=g, dtype=torch.float64)
    for t in sampler.timesteps.tolist():
        ab = s.alpha_bar(t)
        x = sampler.step(math.sqrt(1 - ab) * (x - math.sqrt(ab) * mu) / (ab * sd**2 + 1 - ab), t, x, g)
    assert float(x.mean()) == pytest.approx(mu, abs=0.01)
    assert float(x.std()) == pytest.approx(sd, rel=0.1)


def test_predicted_x0_is_clipped_to_the_normalised_range():
    s = NoiseSchedule(N)
    sampler = DDIMSampler(s, clip_sample=1.0)
    sampler.set_timesteps(1)
    x_t = torch.full((2, 3), 5.0)
    assert float(sampler.step(torch.zeros_like(x_t), N - 1, x_t).abs().max()) <= 1.0


def test_unknown_schedule_and_sampler_names_are_rejected():
    with pytest.raises(ValueError, match="beta_schedule"):
        NoiseSchedule(N, "cosine-ish")
    with pytest.raises(ValueError, match="sampler"):
        make_sampler("euler", NoiseSchedule(N))
