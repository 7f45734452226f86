"""The README opens with the two commands a newcomer runs; CI runs the second one exactly as written."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    lines = (ROOT / "README.md").read_text().splitlines()
    return [lines[i + 1] for i, line in enumerate(lines[:12]) if line.strip() == "```bash"]


def test_readme_opens_with_run_and_test_commands():
    run, test = _readme_commands()[:2]
    assert "pip install -e ." in run and "hieros-bench run smoke" in run and "hieros-bench report" in run
    assert 'pip install -e ".[test]"' in test and "pytest" in test


def test_ci_runs_the_readme_test_command_verbatim():
    test = _readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci
