"""The documentation site: the generated reference pages match the code, the site builds with
``mkdocs build --strict`` (a broken link, a missing anchor or a page outside the navigation
fails), nothing in it points outside the repository, and the README's links reach it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def test_the_generated_reference_matches_the_code() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate-reference"), "--check"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).parent / "mkdocs"
    if not mkdocs.exists():
        pytest.skip("mkdocs is not installed (a test extra: pip install -e '.[test]')")
    result = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "nurse" / "index.html").exists()


def test_nothing_points_outside_the_repository() -> None:
    for page in _pages():
        text = page.read_text(encoding="utf-8")
        assert "../shared" not in text, page
        assert "DESIGN.md" not in text, page
        for target in re.findall(r"\]\(([^)]+)\)", text):
            assert not target.startswith(("http://", "https://", "/")), (page, target)


def test_no_issue_numbers_in_the_docs_or_the_readme() -> None:
    for page in [*_pages(), ROOT / "README.md"]:
        found = re.findall(r"\bissues? #?\d+", page.read_text(encoding="utf-8"), re.IGNORECASE)
        assert not found, (page, found)


def test_the_readme_links_reach_existing_files() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    assert any(t.startswith("docs/") for t in targets)
    for target in targets:
        assert (ROOT / target).exists(), target
