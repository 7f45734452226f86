"""Environments: Atari100k protocol on all 26 games, DMC vision and proprio, seeding, errors, snapshots."""

import json
import subprocess
import sys

import numpy as np
import pytest

from hieros.envs import ATARI100K_GAMES, DMC_PROPRIO, DMC_VISION, EnvError, list_tasks, make_env

# The ALE's minimal action sets of the Atari100k games.
MINIMAL_ACTIONS = {
    "alien": 18,
    "amidar": 10,
    "assault": 7,
    "asterix": 9,
    "bank_heist": 18,
    "battle_zone": 18,
    "boxing": 18,
    "breakout": 4,
    "chopper_command": 18,
    "crazy_climber": 9,
    "demon_attack": 6,
    "freeway": 3,
    "frostbite": 18,
    "gopher": 8,
    "hero": 18,
    "jamesbond": 18,
    "kangaroo": 18,
    "krull": 18,
    "kung_fu_master": 14,
    "ms_pacman": 9,
    "pong": 6,
    "private_eye": 18,
    "qbert": 6,
    "road_runner": 18,
    "seaquest": 18,
    "up_n_down": 6,
}
PROPRIO = {"env": {"dmc": {"obs": "proprio"}}}


def _check(obs, env):
    """Every observation holds exactly the keys of `obs_space`, with their shapes and dtypes."""
    assert set(obs) == set(env.obs_space)
    for key, (shape, dtype) in env.obs_space.items():
        assert np.shape(obs[key]) == shape and np.asarray(obs[key]).dtype == dtype, key


def _actions(env, count, seed=123):
    rng = np.random.default_rng(seed)
    if env.act_space.discrete:
        return [int(a) for a in rng.integers(env.act_space.n, size=count)]
    return list(rng.uniform(-1, 1, (count, *env.act_space.shape)).astype(np.float32))


def _rollout(task, config, seed, steps=40, mode="train"):
    env = make_env(task, config, seed=seed, mode=mode)
    observations = [env.reset()]
    observations += [env.step(action) for action in _actions(env, steps)]
    env.close()
    return observations


def _same(a, b):
    return all(all(np.array_equal(x[k], y[k]) for k in x) for x, y in zip(a, b, strict=True))


def test_the_26_games_and_dreamerv3_dmc_lists():
    assert sorted(MINIMAL_ACTIONS) == sorted(ATARI100K_GAMES)
    assert len(DMC_PROPRIO) == 18 and len(DMC_VISION) == 20 and set(DMC_PROPRIO) < set(DMC_VISION)
    tasks = list_tasks()
    assert len(tasks) == 46 and {"atari_up_n_down", "atari_battle_zone", "dmc_cup_catch"} <= set(tasks)
    assert "dmc_ball_in_cup_catch" in list_tasks(all_dmc=True)


@pytest.mark.parametrize("game", ATARI100K_GAMES)
def test_every_game_creates_resets_and_steps(game):
    env = make_env(f"atari_{game}", {}, seed=0)
    assert env.act_space.discrete and env.act_space.n == MINIMAL_ACTIONS[game]
    assert env.obs_space["image"] == ((64, 64, 3), np.dtype(np.uint8))
    obs = env.reset()
    _check(obs, env)
    assert obs["is_first"] and not obs["is_last"] and obs["reward"] == 0
    for action in range(3):
        obs = env.step(action % env.act_space.n)
        _check(obs, env)
        assert not obs["is_first"]
    protocol = env.protocol()
    assert protocol["frames_per_step"] == 4 and protocol["repeat_action_probability"] == 0.0
    assert protocol["noops"] == 30 and protocol["length"] == 108000 and protocol["actions"] == "needed"
    env.close()


def test_grayscale_and_full_action_set():
    env = make_env("atari_pong", {"env": {"atari": {"gray": True, "actions": "all"}}}, seed=0)
    assert env.act_space.n == 18
    _check(env.reset(), env)
    obs = env.step(17)
    _check(obs, env)
    assert obs["image"].shape == (64, 64, 1)


STICKY = {"env": {"atari": {"sticky": True}}}


@pytest.mark.parametrize(
    "task, config",
    [("atari_breakout", {}), ("atari_ms_pacman", STICKY), ("dmc_cartpole_swingup", {}), ("dmc_walker_walk", PROPRIO)],
)
def test_same_seed_same_observations(task, config):
    assert _same(_rollout(task, config, seed=5), _rollout(task, config, seed=5))


@pytest.mark.parametrize("task, config", [("atari_ms_pacman", {}), ("dmc_walker_walk", PROPRIO)])
def test_resets_continue_the_seeded_rng(task, config):
    """Later episodes start differently from each other, and the same way for the same seed."""

    def starts(seed):
        env = make_env(task, config, seed=seed)
        return [env.reset() for _ in range(6)]

    first, again = starts(1), starts(1)
    assert _same(first, again)
    key = "image" if "image" in first[0] else "vector"
    assert len({obs[key].tobytes() for obs in first}) > 1


@pytest.mark.parametrize("task, config", [("atari_ms_pacman", {}), ("dmc_walker_walk", PROPRIO)])
def test_different_seeds_start_differently(task, config):
    key = "image" if task.startswith("atari") else "vector"
    starts = {make_env(task, config, seed=seed).reset()[key].tobytes() for seed in range(6)}
    assert len(starts) > 1


@pytest.mark.parametrize("gray", [False, True])
def test_max_pooling_and_reward_summing_against_raw_ale(gray):
    """One agent step = 4 frames with the action held, the max of the last two frames, rewards summed."""
    import cv2
    from ale_py import ALEInterface, LoggerMode, roms

    env = make_env("atari_boxing", {"env": {"atari": {"noops": 0, "gray": gray}}}, seed=3)
    env.reset()
    ALEInterface.setLoggerMode(LoggerMode.Error)
    ale = ALEInterface()
    ale.setFloat("repeat_action_probability", 0.0)
    ale.loadROM(roms.get_rom_path("boxing"))
    ale.reset_game()
    actions = ale.getMinimalActionSet()
    rewards = []
    for step in range(150):
        action = [1, 2, 3][step % 3]
        obs = env.step(action)
        reward, screens = 0.0, []
        for _ in range(4):
            reward += ale.act(actions[action])
            screens.append(ale.getScreenRGB())
        expected = cv2.resize(np.maximum(screens[-2], screens[-1]), (64, 64), interpolation=cv2.INTER_AREA)
        if gray:
            luminance = np.array([0.299, 0.587, 1 - (0.299 + 0.587)])  # the original's weights, truncated
            expected = (expected @ luminance).astype(np.uint8)[..., None]
        assert np.array_equal(obs["image"], expected) and obs["reward"] == reward
        rewards.append(reward)
    assert len(set(rewards)) > 2  # the comparison covered steps with different rewards


@pytest.mark.parametrize("length, last_step", [(80, 20), (10, 3)])
def test_episode_limit_truncates_without_terminal(length, last_step):
    env = make_env("atari_pong", {"env": {"atari": {"length": length, "noops": 0}}}, seed=0)
    env.reset()
    obs = [env.step(0) for _ in range(last_step)]
    assert obs[-1]["is_last"] and not obs[-1]["is_terminal"]
    assert not any(o["is_last"] or o["is_terminal"] for o in obs[:-1])
    assert env.reset()["is_first"] and not env.step(0)["is_last"]


def test_a_step_cut_short_shows_its_final_frame():
    """With `length` 10 the third step stops after 2 of its 4 frames; its image is frame 10 unpooled."""
    import cv2
    from ale_py import ALEInterface, LoggerMode, roms

    env = make_env("atari_alien", {"env": {"atari": {"length": 10, "noops": 0}}}, seed=0)
    env.reset()
    images = [env.step(0)["image"] for _ in range(3)]
    ALEInterface.setLoggerMode(LoggerMode.Error)
    ale = ALEInterface()
    ale.loadROM(roms.get_rom_path("alien"))
    ale.reset_game()
    screens = []
    for _ in range(10):
        ale.act(ale.getMinimalActionSet()[0])
        screens.append(ale.getScreenRGB())

    def resize(screen):
        return cv2.resize(screen, (64, 64), interpolation=cv2.INTER_AREA)

    assert np.array_equal(images[-1], resize(screens[-1]))
    assert not np.array_equal(images[-1], resize(np.maximum(screens[-2], screens[-1])))  # alien flickers


@pytest.mark.parametrize(
    "mode, lives, last, terminal",
    [
        ("train", "reset", True, True),
        ("eval", "reset", False, False),
        ("train", "discount", False, True),
        ("train", "unused", False, False),
    ],
)
def test_life_loss_acts_in_training_only(mode, lives, last, terminal):
    env = make_env("atari_breakout", {"env": {"atari": {"lives": lives}}}, seed=0, mode=mode)
    env.reset()
    start = env.ale.lives()
    for _ in range(2000):
        obs = env.step(1 if env.ale.lives() == start else 0)  # FIRE, then wait for the ball to be lost
        if env.ale.lives() < start:
            break
        assert not obs["is_last"] and not obs["is_terminal"]
    assert env.ale.lives() == start - 1
    assert obs["is_last"] == last and obs["is_terminal"] == terminal
    assert env.protocol()["lives"] == (lives if mode == "train" else "unused")


def test_dmc_vision():
    env = make_env("dmc_walker_walk", {}, seed=0)
    assert not env.act_space.discrete and env.act_space.shape == (6,)
    _check(env.reset(), env)
    obs = env.step(np.zeros(6, np.float32))
    _check(obs, env)
    assert obs["image"].shape == (64, 64, 3) and obs["image"].std() > 0
    assert env.protocol()["camera"] == 0 and env.protocol()["frames_per_step"] == 2
    env.close()


def test_dmc_proprio_concatenates_sorted_keys_and_ends_after_1000_steps():
    from dm_control import suite

    env = make_env("dmc_cheetah_run", PROPRIO, seed=4)
    first = env.reset()
    _check(first, env)
    raw = suite.load("cheetah", "run", task_kwargs={"random": 4}).reset().observation
    expected = np.concatenate([np.ravel(raw[key]) for key in sorted(raw)]).astype(np.float32)
    assert np.array_equal(first["vector"], expected)
    steps = [env.step(np.zeros(6, np.float32)) for _ in range(500)]
    assert steps[-1]["is_last"] and not steps[-1]["is_terminal"]
    assert not any(o["is_last"] for o in steps[:-1])
    assert env.protocol()["episode_frames"] == 1000


def test_dmc_actions_are_rescaled_to_the_task_bounds():
    env = make_env("dmc_quadruped_walk", PROPRIO, seed=0)
    env.reset()
    low, high = env.protocol()["action_bounds"]
    assert low != high and env.protocol()["camera"] == 2
    for action, target in [(1.0, high), (-1.0, low), (5.0, high)]:
        env.step(np.full(env.act_space.shape, action, np.float32))
        assert np.allclose(env.env.physics.data.ctrl, target)
    with pytest.raises(ValueError, match="finite"):
        env.step(np.full(env.act_space.shape, np.nan, np.float32))


@pytest.mark.parametrize("task", ["atari_seaquest", "dmc_reacher_easy"])
def test_state_snapshot_continues_identically(task):
    """get_state/set_state (used by checkpoints) continue an episode exactly, also in a fresh environment."""
    env = make_env(task, PROPRIO, seed=7)
    env.reset()
    actions = _actions(env, 60)
    for action in actions[:30]:
        env.step(action)
    state = env.get_state()
    first = [env.step(action) for action in actions[30:]]
    fresh = make_env(task, PROPRIO, seed=99)
    fresh.set_state(state)
    assert _same(first, [fresh.step(action) for action in actions[30:]])


@pytest.mark.parametrize("task", ["atari_seaquest", "dmc_cartpole_balance"])
def test_protocol_is_json(task):
    protocol = make_env(task, {}, seed=0, mode="eval").protocol()
    assert json.loads(json.dumps(protocol)) == protocol and protocol["mode"] == "eval"


@pytest.mark.parametrize(
    "task, hint",
    [
        ("atari_pongg", "atari_pong"),
        ("atari_mspacman", "atari_ms_pacman"),
        ("dmc_cheeta_run", "dmc_cheetah_run"),
        ("dmc_walker_wlak", "dmc_walker_walk"),
    ],
)
def test_unknown_task_names_the_closest(task, hint):
    with pytest.raises(EnvError, match=hint) as info:
        make_env(task, {}, seed=0)
    assert "\n" not in str(info.value) and "list_tasks()" in str(info.value)


@pytest.mark.parametrize(
    "task, block, message",
    [
        ("atari_pong", {"atari": {"lives": "foo"}}, "env.atari.lives='foo' is not valid; use unused | discount"),
        ("atari_pong", {"atari": {"repeats": 4}}, "env.atari: unknown key 'repeats'; keys: size, repeat,"),
        ("atari_pong", {"atari": {"size": [64]}}, "env.atari.size=[64] is not valid; use [height, width]"),
        ("atari_pong", {"atari": {"repeat": 0}}, "env.atari.repeat=0 is not valid; use an integer >= 1"),
        ("atari_pong", {"atari": {"gray": "yes"}}, "env.atari.gray='yes' is not valid; use true | false"),
        ("dmc_cartpole_balance", {"dmc": {"obs": "pixels"}}, "env.dmc.obs='pixels' is not valid; use image"),
        ("dmc_cartpole_balance", {"dmc": {"camera": 7}}, "env.dmc.camera=7 is not valid for cartpole_balance"),
    ],
)
def test_bad_settings_are_one_line_errors(task, block, message):
    with pytest.raises(EnvError) as info:
        make_env(task, {"env": block}, seed=0)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("mode, seed", [("test", 0), ("train", -1), ("train", 1.5)])
def test_bad_mode_or_seed(mode, seed):
    with pytest.raises(EnvError):
        make_env("atari_pong", {}, seed=seed, mode=mode)


@pytest.mark.parametrize(
    "task, module, package",
    [
        ("atari_pong", "ale_py", "pip install ale-py"),
        ("dmc_walker_walk", "dm_control", "pip install dm-control"),
    ],
)
def test_missing_package_says_what_to_install(monkeypatch, task, module, package):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import <module>` fail as if it were not installed
    with pytest.raises(EnvError, match=package):
        make_env(task, {}, seed=0)


def test_importing_the_package_loads_no_simulator():
    heavy = "{'ale_py', 'dm_control', 'mujoco', 'cv2'}"
    code = f"import sys, hieros.envs; print(sorted({heavy} & sys.modules.keys()))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == "[]\n"
