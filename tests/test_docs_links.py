"""Every relative link and image of the README and docs/ points at a file or folder of the tree: a renamed
report, a moved figure or a deleted page shows here, not as a broken picture on GitHub."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)")  # the target of [text](target) and ![alt](target), without an #anchor


def relative_links(text: str) -> list[str]:
    """The link targets of markdown `text` that name a path, not a web address."""
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


def test_relative_links_finds_paths_and_skips_addresses():
    text = "see [a](docs/a.md), ![b](../r/b.png), [c](https://x.org/c), [d](d.md#part), [e](mailto:e@x)"
    assert relative_links(text) == ["docs/a.md", "../r/b.png", "d.md"]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page):
    missing = [target for target in relative_links(page.read_text()) if not (page.parent / target).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to paths that do not exist: {missing}"
