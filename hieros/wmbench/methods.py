"""The bench's methods (world-model variants), its sizes and settings, and the config each run resolves.

A method is a set of config keys over the size's presets, resolved as the agent resolves them
(`hieros.config.build_config`): `--configs dmc_proprio cpu_small` plus cpu_learning's `set` (benchmark.toml), then
the method's keys, then `--set`. Every method is one level (`max_hierarchy=1`): the level-0 world model that the
agent builds, and the flat actor-critic of the decisive measure. To add a variant, add a row to METHODS (or pass
`--set key=value` for a one-off; the run records the config that ran).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from hieros.config import Config, ConfigError, build_config, flat_defaults
from hieros.wmbench.collect import spec

SUITE = "wm_bench"  # the results store's suite folder of cartpole_state: results/wm_bench/<method>/<task>/seed_<n>/


def suite_of(dataset: str) -> str:
    """The suite (the store's folder, run.json's suite) of a dataset's runs: `wm_bench` for cartpole_state, as
    before there were others, else `wm_bench_<dataset>` (cartpole_pixels shares cartpole_state's task)."""
    return SUITE if dataset == "cartpole_state" else f"{SUITE}_{dataset}"


@dataclass(frozen=True)
class Method:
    """A world-model variant: config keys (flat names) over the size's presets."""

    set: Mapping[str, Any]
    description: str


METHODS = {
    "rssm": Method({"model_name": "dreamer"}, "DreamerV3's GRU RSSM (the dreamer agent's world model)"),
    "s5wm": Method(
        {"model_name": "hieros", "max_hierarchy": 1, "dynamics_model": "s5"}, "S5WM (HIEROS's level-0 world model)"
    ),
}
S5WM = METHODS["s5wm"].set
# One design difference between the S5WM and the RSSM a variant (issue #36; the switches: docs/deviations.md).
VARIANTS = {
    "s5wm_window64": ({"batch_length": 64, "batch_size": 2}, "trained on 64-step windows (2 of them: the same steps)"),
    "s5wm_dt_short": ({"s5.dt_min": 0.01, "s5.dt_max": 1.0}, "initial time steps 10x longer: memory ~2-200 steps"),
    "s5wm_clip_eigs": ({"s5.clip_eigs": True}, "Re(Λ) clamped below 0: no S5 mode can grow"),
    "s5wm_posterior_deter": ({"s5.posterior_deter": True}, "the posterior sees deter, as the RSSM's"),
    "s5wm_output_deter": ({"s5.state_as_deter": False}, "deter read from the S5 output, not its states"),
    "s5wm_no_dropout": ({"s5.dropout": 0.0}, "no dropout in the S5 blocks (the RSSM has none)"),
    "s5wm_4blocks": ({"s5.num_blocks": 4}, "the paper's 4 S5 blocks (cpu_small has 1)"),
    "s5wm_no_symlog": ({"s5.symlog_final_output": False}, "deter not symlogged (the RSSM's deter is not)"),
    "s5wm_wide": ({"s5.model_dim": 128, "s5.state_dim": 64}, "S5 blocks twice as wide (H 128, P 64)"),
    "s5wm_lr_1e3": ({"model_lr": 1e-3}, "world-model learning rate 1e-3 (cpu_small's 3e-4 was set on the agent)"),
    "s5wm_same_index_action": ({"action_shift": False}, "D2 as the original: o_t paired with a_t, not a_{t-1}"),
    "s5wm_window64_dt_short": (
        {"batch_length": 64, "batch_size": 2, "s5.dt_min": 0.01, "s5.dt_max": 1.0},
        "both switches of the confirmatory comparison together: 64-step windows and 10x longer time steps",
    ),
    "s5wm_lr_1e3_window64_dt_short": (
        {"model_lr": 1e-3, "batch_length": 64, "batch_size": 2, "s5.dt_min": 0.01, "s5.dt_max": 1.0},
        "the learning rate 1e-3 with 64-step windows and 10x longer time steps (the long-history switches)",
    ),
}
METHODS.update({name: Method({**S5WM, **keys}, f"S5WM, {text}") for name, (keys, text) in VARIANTS.items()})
# The learning rate is a setting of each model, not a design difference: the RSSM at the S5WM's switch too.
METHODS["rssm_lr_1e3"] = Method({**METHODS["rssm"].set, "model_lr": 1e-3}, "the RSSM, world-model learning rate 1e-3")

# The sizes: config presets after the dataset's task preset. `paper` is cpu_small's training (batches, learning
# rates, warm-up) with every model dimension at the paper's value (the defaults: 32x32 latents, deter and hidden
# 256, 4 S5 blocks of width 256 and state 128, MLP encoder and decoder 2 x 512, heads 256): whether the S5WM's
# deficit is its design or the size cpu_small cuts it to.
SIZES = {"cpu_small": ("cpu_small",), "debug": ("debug",), "paper": ("cpu_small",)}
MODEL_SIZE_KEYS = (
    "dyn_hidden",
    "dyn_deter",
    "dyn_stoch",
    "dyn_discrete",
    "units",
    "encoder.mlp_units",
    "encoder.mlp_layers",
    "decoder.mlp_units",
    "decoder.mlp_layers",
    "s5.model_dim",
    "s5.state_dim",
    "s5.init_blocks",
    "s5.num_blocks",
)


def size_keys(size: str) -> dict[str, Any]:
    """The config keys a size sets over its presets: for `paper`, every model dimension at its default."""
    if size != "paper":
        return {}
    defaults = flat_defaults()
    return {key: defaults[key] for key in MODEL_SIZE_KEYS}


# cpu_learning's `set` (benchmark.toml; a test keeps them equal): the model is the one whose agent #36 compares
CPU_LEARNING_SET = {"discount": 0.99, "train_ratio": 256, "env.dmc.repeat": 8}
IDENTITY = ("seed", "task", "logdir", "suite", "method")  # set by the bench, never by --set


@dataclass(frozen=True)
class Settings:
    """What a bench run does besides the config: the protocol every run of a comparison shares."""

    dataset: str = "cartpole_state"  # the dataset's name (hieros.wmbench.datasets)
    data_seed: int = 0  # the dataset's seed (its episodes and its held-out split)
    random_episodes: int = 40  # the dataset's random-policy episodes
    controller_episodes: int = 40  # the dataset's controller episodes
    size: str = "cpu_small"  # the config size: cpu_small or debug
    updates: int = 3000  # world-model updates (N)
    eval_every: int = 500  # world-model updates between held-out measurements (K)
    heldout_sequences: int = 64  # held-out sequences of batch_length steps for the losses
    contexts: tuple[int, ...] = (4, 96)  # observed steps before the open-loop imagination (short, long)
    horizon: int = 16  # imagined steps of the open-loop error (k = 1..horizon)
    openloop_sequences: int = 32  # held-out sequences per context for the open-loop error
    policy_updates: int = 3000  # actor-critic updates in the frozen model's imagination (M)
    eval_episodes: int = 10  # greedy episodes of the learned policy in the real environment
    set: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # --set key=value overrides (the variant)

    def protocol(self) -> dict[str, Any]:
        """The settings as run.json's protocol records them (a run with other settings is another protocol)."""
        out = asdict(self)
        out["contexts"] = list(self.contexts)
        out["set"] = dict(self.set)
        return out


def resolve(method: str, seed: int, settings: Settings) -> Config:
    """The config a run of `method` and `seed` trains with: the dataset's task presets, the size's presets, the
    dataset's environment settings, cpu_learning's set, the size's keys, the method's keys, then --set;
    ConfigError in one line for a bad key or value."""
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
    if settings.size not in SIZES:
        raise ConfigError(f"unknown size {settings.size!r}; known: {', '.join(SIZES)}")
    given = dict(settings.set)
    for key in given:
        if key in IDENTITY or key == "max_hierarchy":
            raise ConfigError(f"--set {key}=...: the bench sets {key} itself (one level; seed, task and names per run)")
    data = spec(settings.dataset)
    overrides: dict[str, Any] = {**data.env_set, **CPU_LEARNING_SET, **size_keys(settings.size)}
    overrides.update({**METHODS[method].set, **given})
    overrides.update(
        task=data.task, seed=seed, suite=suite_of(settings.dataset), method=method, eval_eps=settings.eval_episodes
    )
    overrides["score.protocol"] = "final_eval"
    overrides["tensorboard"] = False
    config = build_config([*data.presets, *SIZES[settings.size]], overrides)
    if config.max_hierarchy != 1:
        raise ConfigError(f"method {method}: the bench trains one level; max_hierarchy is {config.max_hierarchy}")
    return config


def parse_set(items: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """--set key=value items as pairs (values stay text: build_config types them by the default)."""
    pairs = []
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ConfigError(f"--set {item!r}: write key=value, e.g. --set s5.num_blocks=4")
        pairs.append((key.removeprefix("--"), value))
    return tuple(pairs)
