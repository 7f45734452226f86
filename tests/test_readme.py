"""The README opens with the two commands a newcomer runs; CI runs the second one exactly as written."""

from pathlib import Path

import pytest

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


def _table_rows(text: str, header_start: str) -> list[list[str]]:
    """The cells of the markdown table whose header row starts with `header_start`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _quotes_report(readme: str, report: str) -> None:
    """The first "| method | score / 1000" table of `readme` quotes `report`: every method's mean, and each row's
    P(X > Y) and verdict from the report's tested pairs."""
    means = {row[0].split(" (")[0]: row[4] for row in _table_rows(report, "| method | runs/task |")}  # "x (imported)"
    tested = {row[0]: (row[1].strip("*"), row[-1]) for row in _table_rows(report, "| X vs Y | verdict |")}
    quoted = _table_rows(readme, "| method | score / 1000")
    assert {row[0].split(" (")[0].split(",")[0] for row in quoted} == set(means)
    for method, mean, improvement, verdict in quoted:
        name = method.split(" (")[0].split(",")[0]
        assert mean == means[name]
        if improvement:
            interval, _, reference = improvement.partition(" vs ")
            assert tested[f"{name} vs {reference}"] == (verdict, interval)
        else:
            assert not verdict


def test_readme_results_are_the_committed_report():
    """The README's Results table quotes the committed cpu_learning report, number for number and verdict for
    verdict (the calibrated test's, #34)."""
    readme = (ROOT / "README.md").read_text()
    _quotes_report(readme, (ROOT / "results" / "report" / "cpu_learning" / "report.md").read_text())


@pytest.mark.parametrize("rung", [f"cpu_learning_rung{n}" for n in ("", "2", "3", "4")])
def test_readme_rung_is_the_committed_rung_report(rung):
    """The README's table of each RL rung (#36), the first after the link to its report, quotes that committed
    report, number for number and verdict for verdict."""
    link = f"(results/report/{rung}/report.md)"
    readme = (ROOT / "README.md").read_text()
    assert link in readme
    _quotes_report(readme.split(link, 1)[1], (ROOT / "results" / "report" / rung / "report.md").read_text())
