import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hieros.config import (
    Config,
    ConfigError,
    build_config,
    key_docs,
    key_specs,
    load_blocks,
    parse_value,
    preset_names,
)
from hieros.config_cli import parse_args, usage

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_and_presets_load():
    config = build_config()
    assert config.model_name == "hieros"
    assert set(preset_names()) >= {"atari100k", "dmc_vision", "dmc_proprio", "debug"}
    for name in preset_names():
        build_config([name])


def test_paper_values_of_the_atari100k_preset():
    """The ICML-era values (reference §0, §2.5), not today's drifted defaults of the original."""
    c = build_config(["atari100k"])
    assert c.steps == 400_000 and c.train_ratio == 1024 and c.num_envs == 1
    assert c.env.atari == {
        "size": [64, 64],
        "repeat": 4,
        "gray": False,
        "noops": 30,
        "sticky": False,
        "actions": "needed",
        "lives": "unused",
        "length": 108000,
        "resize": "opencv",
    }
    assert (c.replay, c.replay_temperature) == ("timebalanced", 0.3)
    assert c.s5.dropout == 0.1 and c.encoder.mlp_units == 512 and c.decoder.mlp_units == 512
    assert c.compile is False and c.subgoal_reward_weight == 0.3 and c.novelty_only_higher_level is True
    assert (c.batch_size, c.batch_length, c.imag_horizon, c.max_hierarchy) == (16, 64, 16, 3)
    assert (c.actor_dist, c.imag_gradient, c.eval_eps) == ("onehot", "reinforce", 100)


def test_presets_merge_in_order():
    a = build_config(["atari100k", "debug"])
    b = build_config(["debug", "atari100k"])
    assert a.steps == 2000 and a.num_envs == 1
    assert b.steps == 400_000
    assert a.batch_size == b.batch_size == 4  # only debug sets it
    # a nested block merges key by key instead of replacing the block
    assert a.env.atari.noops == 30 and a.env.atari.length == 108000


def test_override_typing():
    c, printed = parse_args(
        [
            "--configs",
            "debug",
            "--steps=1e4",
            "--model_lr",
            "3e-4",
            "--eval_final=True",
            "--subgoal_shape=4,4",
            "--s5.num_blocks=2",
            "--env.atari.size=[32,32]",
            "--task=atari_pong",
            "--print_config",
        ]
    )
    assert printed
    assert c.steps == 10_000 and isinstance(c.steps, int)
    assert c.model_lr == 3e-4 and isinstance(c.model_lr, float)
    assert c.eval_final is True
    assert c.subgoal_shape == [4, 4]
    assert c.s5.num_blocks == 2 and c.s5.model_dim == 32
    assert c.env.atari.size == [32, 32]
    assert c.task == "atari_pong"


def test_configs_flag_forms():
    a, _ = parse_args(["--configs", "atari100k", "debug"])
    b, _ = parse_args(["--configs=atari100k,debug"])
    assert a == b


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--stpes=10"], "did you mean steps"),
        (["--configs", "atari10k"], "did you mean atari100k"),
        (["--steps=ten"], "expected an integer"),
        (["--steps=1.5"], "expected an integer"),
        (["--model_lr=fast"], "expected a number"),
        (["--compile=maybe"], "expected true or false"),
        (["--subgoal_shape=a,b"], "expected an integer"),
        (["--s5=3"], "it is a group"),
        (["--s5.num_blcks=3"], "did you mean s5.num_blocks"),
        (["--task"], "needs a value"),
        (["stray"], "unexpected argument"),
    ],
)
def test_errors_are_one_line_and_name_the_fix(argv, message):
    with pytest.raises(ConfigError) as info:
        parse_args(argv)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_preset_file_is_rejected(tmp_path):
    file = tmp_path / "configs.yaml"
    blocks = load_blocks()
    blocks["broken"] = {"batch_sise": 3}
    file.write_text(yaml.safe_dump(blocks))
    with pytest.raises(ConfigError, match="did you mean batch_size"):
        build_config(["broken"], path=file)
    blocks["broken"] = {"batch_size": "three"}
    file.write_text(yaml.safe_dump(blocks))
    with pytest.raises(ConfigError, match="expected int"):
        build_config(["broken"], path=file)


def test_parse_value_lists_and_none():
    assert parse_value("1,2,3", [0], "k") == [1, 2, 3]
    assert parse_value("", [0], "k") == []
    assert parse_value("[1, 2]", [0], "k") == [1, 2]


def test_hash_is_stable_and_ignores_identity_keys():
    a = build_config(["atari100k"], {"task": "atari_pong", "seed": "3"})
    b = build_config(["atari100k"], {"task": "atari_alien", "seed": "4"})
    assert a.hash() == b.hash()
    assert a.hash() != build_config(["atari100k"], {"replay": "uniform"}).hash()
    reordered = Config(dict(reversed(list(a.items()))))
    assert reordered.hash() == a.hash()


def test_every_key_has_a_one_line_doc_in_configs_yaml():
    """Each key of the defaults block carries a trailing comment (groups excepted)."""
    lines = (ROOT / "hieros" / "configs.yaml").read_text().splitlines()
    start = lines.index("defaults:")
    end = next(i for i in range(start + 1, len(lines)) if lines[i] and not lines[i].startswith((" ", "#")))
    undocumented = [
        line.strip()
        for line in lines[start + 1 : end]
        if ":" in line and not line.strip().startswith("#") and not line.rstrip().endswith(":") and "#" not in line
    ]
    assert undocumented == []


@pytest.mark.parametrize("entry", [["-m", "hieros.train"], ["hieros/train.py"]])
def test_cli_print_config_and_exit_code_2(entry):
    ok = subprocess.run(
        [sys.executable, *entry, "--configs", "atari100k", "--task=atari_alien", "--print_config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert "task: atari_alien" in ok.stdout and "config hash" in ok.stdout
    bad = subprocess.run(
        [sys.executable, *entry, "--configs", "atari100k", "--max_hierarchi=2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "did you mean max_hierarchy" in bad.stderr


def test_docs_config_lists_every_key():
    doc = (ROOT / "docs" / "config.md").read_text()
    missing = [key for key in build_config().flat() if f"| `{key}` |" not in doc]
    assert missing == []


def test_key_docs_cover_every_key_and_help_lists_them():
    docs = key_docs()
    keys = build_config().flat()
    assert [key for key in keys if not docs.get(key)] == []
    text = usage()
    assert all(f"--{key}=" in text for key in keys)
    assert "--subgoal_shape=8,8 " in text and "--env.dmc.obs=image " in text


@pytest.mark.parametrize("argv", [["--help"], ["--configs", "debug", "-h"]])
def test_cli_help_exits_0_with_usage(argv):
    out = subprocess.run([sys.executable, "-m", "hieros.train", *argv], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and out.stderr == ""
    assert out.stdout.startswith("usage: python -m hieros.train") and "--max_hierarchy=3" in out.stdout


BAD_VALUES = [
    ("--dynamics_model=gru", "--dynamics_model=gru is not valid: use one of s5 | rssm"),
    ("--imag_gradient=foo", "--imag_gradient=foo is not valid: use one of dynamics | reinforce"),
    ("--steps=-5", "--steps=-5 is not valid: use a number in [1, 1892160000]"),
    ("--score.protocol=bogus", "--score.protocol=bogus is not valid"),
    ("--batch_size=0", "--batch_size=0 is not valid"),
    ("--batch_length=0", "--batch_length=0 is not valid"),
    ("--num_envs=0", "--num_envs=0 is not valid"),
    ("--device=tpu", "--device=tpu is not valid: use auto | cpu | cuda | cuda:N"),
    ("--replay_temperature=1.5", "--replay_temperature=1.5 is not valid: use a number in [0, 1]"),
    ("--discount=0", "--discount=0.0 is not valid: use a number in (0, 1]"),
    ("--model_lr=0", "--model_lr=0.0 is not valid: use a number in (0, inf)"),
    ("--s5.dropout=1", "--s5.dropout=1.0 is not valid: use a number in [0, 1)"),
    ("--env.dmc.size=64,0", "--env.dmc.size=64,0 is not valid"),
    ("--subgoal_shape=4", "--subgoal_shape=4: give 2 values like the default 8,8"),
    ("--encoder.mlp_keys=[", "--encoder.mlp_keys='[' is not a regular expression"),
    ("--task=atari_pongg", "--task: unknown task 'atari_pongg'; closest: atari_pong"),
    ("--model_name=ppo", "--model_name=ppo is not valid: use one of hieros | dreamer | random"),
    ("--precision=16", "--precision=16 (the original's fp16 with loss scaling) is not built"),
    ("--precision=8", "--precision=8 is not valid: use one of 32 | 16 | bf16"),
    ("--hierarchical_world_models=false", "--hierarchical_world_models=false (higher levels imagining"),
    ("--model_name=dreamer --max_hierarchy=2", "--model_name=dreamer implies --max_hierarchy=1; drop"),
]


@pytest.mark.parametrize("flags,message", BAD_VALUES)
def test_bad_values_are_refused_in_one_line(flags, message):
    with pytest.raises(ConfigError) as info:
        parse_args(["--configs", "dmc_proprio", "debug", "--task=dmc_cartpole_balance", *flags.split()])
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_every_key_declares_its_allowed_values_and_the_presets_keep_them():
    specs = key_specs()
    assert [key for key in build_config().flat() if specs.get(key) is None] == []
    for name in preset_names():
        build_config([name])  # each preset's values are inside their specs (build_config checks them)


def test_dreamer_records_what_it_runs():
    """The config that runs, and that run.json records and hashes, is the one-level RSSM agent (issue 15)."""
    c = build_config(["dmc_proprio"], {"model_name": "dreamer"})
    assert (c.dynamics_model, c.max_hierarchy, c.novelty_reward_weight) == ("rssm", 1, 0.0)
    assert c.hash() != build_config(["dmc_proprio"]).hash()
    assert build_config(["dmc_proprio"], {"model_name": "dreamer", "max_hierarchy": "1"}) == c


def test_run_checks_need_the_task_and_the_machine():
    from hieros.agent_api import check_run

    with pytest.raises(ConfigError, match="--actor_dist=onehot does not fit the continuous actions"):
        check_run(build_config(["atari100k", "debug"]))
    check_run(build_config(["atari100k", "debug"], {"task": "atari_pong"}))
    check_run(build_config(["atari100k", "debug"], {"model_name": "random"}))  # no actor
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="--device=cuda:0: no CUDA device is visible here"):
            check_run(build_config(["dmc_proprio"], {"device": "cuda:0"}))


def test_a_failed_start_leaves_no_run_directory(tmp_path):
    logdir = tmp_path / "run"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "hieros.train",
            "--configs",
            "dmc_proprio",
            "debug",
            "--task=dmc_cartpole_balance",
            "--batch_size=0",
            f"--logdir={logdir}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and out.stderr.startswith("error: --batch_size=0") and not logdir.exists()


def test_discard_new_run_keeps_a_run_that_has_a_record(tmp_path):
    from hieros import rundir, runlock

    fresh, recorded = tmp_path / "fresh", tmp_path / "recorded"
    for path in (fresh, recorded):
        path.mkdir()
        assert runlock.lock_run(path)
    (recorded / rundir.RUN_FILE).write_text("{}")
    rundir.discard_new_run(fresh)
    rundir.discard_new_run(recorded)
    assert not fresh.exists() and (recorded / rundir.RUN_FILE).exists()
