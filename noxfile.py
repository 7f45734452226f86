"""Nox sessions: `nox -s tests`, `nox -s lint`, `nox -s smoke` (and `nox -s rliable_crosscheck`, `nox -s parity`)."""

import os

import nox

nox.options.sessions = ["lint", "tests"]
PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The test suite, as CI runs it: the fast tier (the README's command), then the slow tier."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs)
    session.run("pytest", "-q", "-m", "slow", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff's checks and format over the whole project, and the import contracts (as .ci/run)."""
    session.install("-e", ".[test]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports", "--no-cache")


@nox.session(python=PYTHON)
def smoke(session: nox.Session) -> None:
    """The README's main job: a short real benchmark sweep and its report."""
    session.install("-e", ".")
    results = session.create_tmp()
    session.run("hieros-bench", "run", "smoke", "--results", results, *session.posargs)
    session.run("hieros-bench", "report", "--results", results, "--out", f"{results}/report")


@nox.session(python=PYTHON)
def rliable_crosscheck(session: nox.Session) -> None:
    """Our aggregates against rliable's, with the pins under which rliable imports (arch<8, pandas<3)."""
    session.install("-e", ".[test]", "rliable", "arch<8", "pandas<3")
    session.run(
        "pytest",
        "-q",
        "-rs",
        "-W",
        "ignore::FutureWarning",
        "tests/analysis/test_rliable.py",
        *session.posargs,
        env={"RLIABLE_REQUIRED": "1"},
    )


# What the original HIEROS code imports (tensorboard comes with this project), at the versions under which it runs
# on a CPU with torch 2.13.0
# (shared reference original-on-cpu.md; setuptools 80.9 still ships the pkg_resources that wandb 0.15 needs).
ORIGINAL_DEPS = [
    "numpy==1.26.4",
    "jax==0.4.30",
    "jaxlib==0.4.30",
    "ruamel.yaml==0.17.33",
    "einops==0.6.1",
    "wandb==0.15.11",
    "setuptools==80.9.0",
    "tqdm==4.66.1",
    "psutil",
    "pillow",
    "lovely-tensors==0.1.15",
    "lovely-numpy==0.2.9",
    "cloudpickle",
    "pyzmq",
]


@nox.session(python=PYTHON)
def parity(session: nox.Session) -> None:
    """Our agent against the original HIEROS code, same weights and inputs (docs/parity.md). Give checkouts of
    72567d3 and HEAD: `HIEROS_ORIGINAL=PATH HIEROS_ORIGINAL_HEAD=PATH nox -s parity`, or
    `nox -s parity -- --original PATH --original-head PATH` (add `--write` to update the doc)."""
    if not os.environ.get("HIEROS_ORIGINAL") and "--original" not in session.posargs:
        session.error(
            "no checkout of the original code: git clone https://github.com/Snagnar/Hieros && "
            "git -C Hieros archive 72567d3 -- . ':!documentation' | tar -x -C DIR, then "
            "HIEROS_ORIGINAL=DIR nox -s parity (docs/parity.md)"
        )
    session.install("torch==2.13.0")
    session.install("-e", ".", *ORIGINAL_DEPS)
    session.run("python", "-m", "parity", *session.posargs)
