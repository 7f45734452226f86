"""The command line of a run's config: `--configs` presets and `--KEY=VALUE` flags split from argv and merged by
hieros.config.build_config, `--help`'s text (every key with its default, its allowed values and its comment in
configs.yaml), and the merged config printed (`--print_config`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from hieros.config import CONFIGS_FILE, Config, build_config, flat_defaults, key_docs, key_specs, preset_names
from hieros.config_schema import ConfigError, Spec, flag_text

__all__ = ["HelpRequested", "dump", "parse_args", "split_args", "usage"]


class HelpRequested(Exception):
    """`--help` was given; the message is the usage text."""


def usage(path: Path = CONFIGS_FILE) -> str:
    """The text of `python -m hieros.train --help`: how to call it, the presets, every key with its default."""
    defaults = flat_defaults(path)
    specs, docs = key_specs(path), key_docs(path)
    rows = [
        f"  {f'--{key}={flag_text(value)}':<44} {_spec_text(specs.get(key))}{docs.get(key, '')}".rstrip()
        for key, value in defaults.items()
    ]
    return "\n".join(
        [
            "usage: python -m hieros.train [--configs PRESET ...] [--KEY=VALUE ...] [--print_config] [--trust-pickle]",
            "",
            "Train one run of HIEROS (or the dreamer / random baselines). The defaults are the original's paper-era",
            "values; --configs merges presets over them in order, then --KEY=VALUE sets any key (nested keys:",
            "--s5.num_blocks=2), parsed by the type of its default. --print_config prints the merged config and its",
            "hash and exits. Every value is checked against the allowed values shown beside it ({a|b}: one of;",
            "[lo, hi) an interval, each element of a list; -: any) before anything is created. Starting a run again",
            "resumes it from its checkpoint; --trust-pickle lets it read a pickled checkpoint of an earlier version",
            "(a pickle can run code: only for runs you trust).",
            "",
            "example: python -m hieros.train --configs atari100k --task=atari_alien --max_hierarchy=2",
            "         python -m hieros.train --configs dmc_proprio debug --task=dmc_cartpole_balance --seed=2",
            "",
            f"presets: {', '.join(preset_names(path))}  (hieros/configs.yaml)",
            "",
            "keys, each at its default (docs/config.md says more and lists where we differ from the original):",
            *rows,
        ]
    )


def _spec_text(spec: Spec | None) -> str:
    return "" if spec is None or spec.text == "-" else spec.text + " "


def split_args(argv: Sequence[str]) -> tuple[list[str], dict[str, str], bool]:
    """Split argv into (presets, {key: raw value}, print_config). `--help` / `-h` raise HelpRequested."""
    presets: list[str] = []
    overrides: dict[str, str] = {}
    print_config = False
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-h", "--help"):
            raise HelpRequested(usage())
        if not arg.startswith("--"):
            raise ConfigError(f"unexpected argument {arg!r}: flags look like --key=value")
        name, eq, value = arg[2:].partition("=")
        if name == "print_config":
            print_config = True
        elif name == "configs":
            given = len(presets)
            if eq:
                presets.extend(v for v in value.replace(",", " ").split() if v)
            while i + 1 < len(args) and not args[i + 1].startswith("-"):
                i += 1
                presets.append(args[i])
            if len(presets) == given:
                raise ConfigError(
                    f"--configs needs at least one preset, e.g. --configs atari100k debug; presets: "
                    f"{', '.join(preset_names())}"
                )
        else:
            if not eq:
                if i + 1 >= len(args) or args[i + 1].startswith("--"):
                    raise ConfigError(f"--{name} needs a value, e.g. --{name}=VALUE")
                i += 1
                value = args[i]
            overrides[name] = value
        i += 1
    return presets, overrides, print_config


def parse_args(argv: Sequence[str]) -> tuple[Config, bool]:
    """The CLI entry: `--configs a b --key=value ...` -> (config, print_config)."""
    presets, overrides, print_config = split_args(argv)
    return build_config(presets, overrides), print_config


def dump(config: Config) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=None)
