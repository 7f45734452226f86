"""Nox sessions: `nox -s tests`, `nox -s lint`, `nox -s smoke` (and `nox -s rliable_crosscheck`)."""

import nox

nox.options.sessions = ["lint", "tests"]
PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The test suite, as CI runs it."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the whole project."""
    session.install("ruff")
    session.run("ruff", "check", ".")


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
    session.run("pytest", "-q", "-rs", "-W", "ignore::FutureWarning", "tests/test_analysis_rliable.py",
                *session.posargs)
