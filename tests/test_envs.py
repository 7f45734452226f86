"""Environments: the Atari100k protocol on all 26 games, DMC vision and proprio, seeding, errors, state snapshots."""

import numpy as np
import pytest

from hieros.envs import ATARI100K_GAMES, DMC_PROPRIO, DMC_VISION, EnvError, list_tasks, make_env

MINIMAL_ACTIONS = {"pong": 6, "breakout": 4, "alien": 18, "freeway": 3, "boxing": 18, "up_n_down": 6}


def test_the_26_games_and_dreamerv3_dmc_lists():
    assert len(ATARI100K_GAMES) == 26 and len(DMC_PROPRIO) == 18 and len(DMC_VISION) == 20
    assert "atari_up_n_down" in list_tasks() and "dmc_cup_catch" in list_tasks()


@pytest.mark.parametrize("game", ATARI100K_GAMES)
def test_every_game_creates_resets_and_steps(game):
    env = make_env(f"atari_{game}", {}, seed=0)
    obs = env.reset()
    assert obs["image"].shape == (64, 64, 3) and obs["image"].dtype == np.uint8
    assert obs["is_first"] and not obs["is_last"] and obs["reward"] == 0
    if game in MINIMAL_ACTIONS:
        assert env.act_space.n == MINIMAL_ACTIONS[game]
    for action in range(3):
        obs = env.step(action % env.act_space.n)
        assert obs["image"].shape == (64, 64, 3) and not obs["is_first"]
        assert isinstance(obs["reward"], np.float32)
    assert env.protocol()["frames_per_step"] == 4 and env.protocol()["repeat_action_probability"] == 0.0
    env.close()


def test_grayscale_and_full_action_set():
    env = make_env("atari_pong", {"env": {"atari": {"gray": True, "actions": "all"}}}, seed=0)
    assert env.reset()["image"].shape == (64, 64, 1) and env.act_space.n == 18


def _rollout(task, config, seed, steps=60, actions=None):
    env = make_env(task, config, seed=seed)
    frames = [env.reset()]
    rng = np.random.default_rng(123)
    for t in range(steps):
        if env.act_space.discrete:
            action = actions[t] if actions else int(rng.integers(env.act_space.n))
        else:
            action = rng.uniform(-1, 1, env.act_space.shape).astype(np.float32)
        frames.append(env.step(action))
    return frames


@pytest.mark.parametrize("task", ["atari_breakout", "dmc_cartpole_swingup"])
def test_same_seed_same_observations(task):
    key = "image"
    a, b = _rollout(task, {}, seed=5), _rollout(task, {}, seed=5)
    assert all(np.array_equal(x[key], y[key]) and x["reward"] == y["reward"] for x, y in zip(a, b, strict=True))


def test_noop_starts_depend_on_the_seed():
    starts = {make_env("atari_ms_pacman", {}, seed=s).reset()["image"].tobytes() for s in range(6)}
    assert len(starts) > 1


def test_max_pooling_and_reward_summing_against_raw_ale():
    """One agent step = 4 frames with the action held, the max of the last two frames, rewards summed."""
    import cv2
    from ale_py import ALEInterface, roms

    config = {"env": {"atari": {"noops": 0}}}
    env = make_env("atari_breakout", config, seed=3)
    env.reset()
    ale = ALEInterface()
    ale.setInt("random_seed", 3)
    ale.setFloat("repeat_action_probability", 0.0)
    ale.loadROM(roms.get_rom_path("breakout"))
    ale.reset_game()
    actions = ale.getMinimalActionSet()
    for step in range(40):
        action = [1, 2, 3][step % 3]
        obs = env.step(action)
        reward, screens = 0.0, []
        for _ in range(4):
            reward += ale.act(actions[action])
            screens.append(ale.getScreenRGB())
        expected = cv2.resize(np.maximum(screens[-2], screens[-1]), (64, 64), interpolation=cv2.INTER_AREA)
        assert np.array_equal(obs["image"], expected) and obs["reward"] == reward


def test_episode_limit_truncates_without_terminal():
    env = make_env("atari_pong", {"env": {"atari": {"length": 80, "noops": 0}}}, seed=0)
    env.reset()
    obs = [env.step(0) for _ in range(20)]
    assert obs[19]["is_last"] and not obs[19]["is_terminal"] and not obs[18]["is_last"]


@pytest.mark.parametrize("mode, ends", [("train", True), ("eval", False)])
def test_life_loss_ends_training_episodes_only(mode, ends):
    env = make_env("atari_breakout", {"env": {"atari": {"lives": "reset"}}}, seed=0, mode=mode)
    env.reset()
    lives = env.ale.lives()
    for _ in range(2000):
        obs = env.step(1 if env.ale.lives() == lives else 0)  # FIRE once, then wait for the ball to be lost
        if env.ale.lives() < lives:
            break
    assert env.ale.lives() < lives
    assert bool(obs["is_last"]) == ends and bool(obs["is_terminal"]) == ends


def test_dmc_vision_and_proprio():
    vision = make_env("dmc_walker_walk", {}, seed=0)
    vision.reset()
    obs = vision.step(np.zeros(vision.act_space.shape, np.float32))
    assert obs["image"].shape == (64, 64, 3) and obs["image"].dtype == np.uint8
    assert not vision.act_space.discrete and vision.act_space.shape == (6,)
    proprio = make_env("dmc_cheetah_run", {"env": {"dmc": {"obs": "proprio"}}}, seed=0)
    obs = proprio.reset()
    assert obs["vector"].dtype == np.float32 and obs["vector"].shape == (17,)
    last = [proprio.step(np.zeros(6, np.float32)) for _ in range(500)][-1]
    assert last["is_last"] and not last["is_terminal"]
    assert proprio.protocol()["frames_per_step"] == 2


@pytest.mark.parametrize("task", ["atari_seaquest", "dmc_reacher_easy"])
def test_state_snapshot_continues_identically(task):
    """get_state/set_state (used by checkpoints) continue an episode exactly, also in a fresh environment."""
    config = {"env": {"dmc": {"obs": "proprio"}}}
    env = make_env(task, config, seed=7)
    env.reset()
    rng = np.random.default_rng(0)

    def act():
        if env.act_space.discrete:
            return int(rng.integers(env.act_space.n))
        return rng.uniform(-1, 1, env.act_space.shape).astype(np.float32)

    for _ in range(30):
        env.step(act())
    state = env.get_state()
    rng_state = rng.bit_generator.state
    key = "image" if "image" in env.obs_space else "vector"
    first = [env.step(act())[key] for _ in range(30)]
    fresh = make_env(task, config, seed=99)
    fresh.set_state(state)
    env, rng.bit_generator.state = fresh, rng_state
    second = [env.step(act())[key] for _ in range(30)]
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize("task, hint", [("atari_pongg", "atari_pong"), ("dmc_cheeta_run", "dmc_cheetah_run")])
def test_unknown_task_names_the_closest(task, hint):
    with pytest.raises(EnvError, match=hint) as info:
        make_env(task, {}, seed=0)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("config, message", [
    ({"env": {"atari": {"lives": "sometimes"}}}, "env.atari.lives"),
    ({"env": {"atari": {"repeats": 4}}}, "unknown key 'repeats'"),
])
def test_bad_settings_are_one_line_errors(config, message):
    with pytest.raises(EnvError, match=message):
        make_env("atari_pong", config, seed=0)
