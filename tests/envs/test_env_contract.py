"""What every registered env promises, checked for each registry entry (a new env is covered without editing a
list): it builds batched and single, steps with the shapes its spec declares, its expert reaches the success its
spec documents, its drawer renders a frame, its camera variant names a registered env, and its recipes and RL
settings name real config fields."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from imitlab.envs.registry import ENVS, BatchedEnv, CameraEnv
from imitlab.evaluation.evaluate import evaluate_expert
from imitlab.policies.base import get_policy_class
from imitlab.rl.algorithm import get_algo
from imitlab.training.train import TrainConfig

EXPERT_EPISODES = 10


FAMILY_MEMBERS_IN_DEFAULT_RUN = 4  # of a large family (Meta-World's 100 envs): the rest run under -m slow


def envs_with(check=lambda spec: True) -> list:
    """The registered envs a check applies to (every env is checked for what it declares); of a family, its first
    FAMILY_MEMBERS_IN_DEFAULT_RUN members in the default run and the others under ``slow``."""
    params, seen = [], {}
    for name, spec in ENVS.items():
        if not check(spec):
            continue
        seen[spec.family] = seen.get(spec.family, 0) + 1
        late = spec.family and seen[spec.family] > FAMILY_MEMBERS_IN_DEFAULT_RUN
        params.append(pytest.param(name, marks=pytest.mark.slow) if late else name)
    return params


@pytest.mark.parametrize("name", envs_with())
def test_the_env_builds_batched_and_single_and_steps_with_its_declared_shapes(name):
    spec = ENVS.get(name)
    if spec.family:
        pytest.importorskip(spec.family.replace("-", "_"))  # an optional extra (metaworld)
    if name.startswith("pusht"):
        pytest.importorskip("gym_pusht")
    env = spec.make_vector(2)
    assert isinstance(env, BatchedEnv)
    obs, _ = env.reset(seed=[1, 2])
    assert obs.shape == (2, len(spec.obs_names))
    action = np.zeros((2, len(spec.action_names)), np.float32)
    obs, reward, terminated, truncated, info = env.step(action)
    assert obs.shape == (2, len(spec.obs_names)) and reward.shape == (2,) and info["success"].shape == (2,)
    if spec.cameras:
        frames = env.render_cameras() if isinstance(env, CameraEnv) else {}
        assert {key: frame.shape for key, frame in frames.items()} == {
            key: (2, h, w, 3) for key, (h, w) in spec.cameras.items()
        }
    env.close()
    single = spec.make_single()
    single_obs, _ = single.reset(seed=1)
    assert np.shape(single_obs if not isinstance(single_obs, dict) else single_obs["observation.state"])[-1] == len(
        spec.obs_names
    )
    single.close()


@pytest.mark.parametrize("name", envs_with(lambda spec: spec.expert_success is not None))
def test_the_expert_reaches_the_success_its_spec_documents(name):
    spec = ENVS.get(name)
    result = evaluate_expert(name, EXPERT_EPISODES, seed=0)
    assert result.success_rate >= spec.expert_success - 0.1, (name, result.success_rate)


@pytest.mark.parametrize("name", envs_with(lambda spec: spec.draw is not None))
def test_the_drawer_renders_an_rgb_frame_of_the_asked_size(name):
    spec = ENVS.get(name)
    assert spec.draw is not None
    trajectory = np.zeros((3, len(spec.obs_names)), np.float32)
    frame = spec.draw(trajectory, 64)
    assert isinstance(frame, Image.Image) and frame.size == (64, 64) and frame.mode == "RGB"


@pytest.mark.parametrize("name", envs_with(lambda spec: spec.variant_of is not None))
def test_a_camera_variant_names_a_registered_env_with_study_demonstrations(name):
    spec = ENVS.get(name)
    assert spec.variant_of is not None and spec.cameras and ENVS.get(spec.variant_of).study_demos is not None


@pytest.mark.parametrize("name", envs_with())
def test_every_recipe_and_rl_setting_names_real_config_fields(name):
    spec = ENVS.get(name)
    for head, (policy_fields, train_fields) in {**spec.recipes, **spec.full_scale_recipes}.items():
        get_policy_class(head).config_class(obs_dim=2, act_dim=2, **policy_fields)
        TrainConfig(**train_fields)
    for algo, fields in spec.rl_defaults.items():
        config_class = get_algo(algo).config_class
        known = {f.name for f in dataclasses.fields(config_class)}
        assert set(fields) <= known, (algo, set(fields) - known)
        config_class(**fields)
