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
    load_blocks,
    parse_args,
    parse_value,
    preset_names,
    usage,
)

ROOT = Path(__file__).resolve().parents[1]


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
    assert c.env.atari == {"size": [64, 64], "repeat": 4, "gray": False, "noops": 30, "sticky": False,
                           "actions": "needed", "lives": "unused", "length": 108000, "resize": "opencv"}
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
    c, printed = parse_args(["--configs", "debug", "--steps=1e4", "--model_lr", "3e-4", "--compile=True",
                             "--subgoal_shape=4,4", "--s5.num_blocks=2", "--env.atari.size=[32,32]",
                             "--task=atari_pong", "--print_config"])
    assert printed
    assert c.steps == 10_000 and isinstance(c.steps, int)
    assert c.model_lr == 3e-4 and isinstance(c.model_lr, float)
    assert c.compile is True
    assert c.subgoal_shape == [4, 4]
    assert c.s5.num_blocks == 2 and c.s5.model_dim == 32
    assert c.env.atari.size == [32, 32]
    assert c.task == "atari_pong"


def test_configs_flag_forms():
    a, _ = parse_args(["--configs", "atari100k", "debug"])
    b, _ = parse_args(["--configs=atari100k,debug"])
    assert a == b


@pytest.mark.parametrize("argv, message", [
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
])
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
    undocumented = [line.strip() for line in lines[start + 1:end]
                    if ":" in line and not line.strip().startswith("#") and not line.rstrip().endswith(":")
                    and "#" not in line]
    assert undocumented == []


@pytest.mark.parametrize("entry", [["-m", "hieros.train"], ["hieros/train.py"]])
def test_cli_print_config_and_exit_code_2(entry):
    ok = subprocess.run([sys.executable, *entry, "--configs", "atari100k", "--task=atari_alien", "--print_config"],
                        cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "task: atari_alien" in ok.stdout and "config hash" in ok.stdout
    bad = subprocess.run([sys.executable, *entry, "--configs", "atari100k", "--max_hierarchi=2"],
                         cwd=ROOT, capture_output=True, text=True)
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
