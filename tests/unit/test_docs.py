"""The documentation: generated pages current, links and anchors resolving, examples valid, and
the README keeping its promises (short, the two commands first, CI running its test command)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import docs as docgen
from wheelship.cli import main

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = sorted([README, ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md")])

_FENCE = re.compile(r"^(```|~~~)")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _prose(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    out, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            out.append(line)
    return out


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"(?ms)^```{lang}\n(.*?)^```", text)


def anchors(text: str) -> set[str]:
    """The heading anchors of a Markdown page that work on both GitLab and GitHub: lower case,
    punctuation dropped, spaces to hyphens; GitLab also collapses runs of hyphens. A repeated
    heading gets -1, -2, ..."""
    github: list[str] = []
    gitlab: list[str] = []
    for line in _prose(text):
        match = _HEADING.match(line)
        if not match:
            continue
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", match.group(2)).replace("`", "")
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        github.append(slug)
        gitlab.append(re.sub(r"-{2,}", "-", slug))

    def numbered(slugs: list[str]) -> set[str]:
        out, seen = set(), dict[str, int]()
        for slug in slugs:
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(f"{slug}-{n}" if n else slug)
        return out

    return numbered(github) & numbered(gitlab)


def broken_links(page: Path) -> list[str]:
    """Relative links of ``page`` whose file, or anchor in that file, does not exist."""
    problems = []
    for line in _prose(page.read_text(encoding="utf-8")):
        # Code spans are not links (a regex default such as `[0-9](?P<minor>...)` looks like
        # one), unless they are a link's text: [`x`](url).
        text = re.sub(r"(?<!\[)`[^`]*`(?!\])", "", line).replace("`", "")
        for target in _LINK.findall(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            path_part, _, anchor = target.partition("#")
            dest = (page.parent / path_part).resolve() if path_part else page
            if not dest.exists():
                problems.append(f"{page.name}: {target}: no such file")
            elif (
                anchor
                and dest.suffix == ".md"
                and anchor not in anchors(dest.read_text(encoding="utf-8"))
            ):
                problems.append(f"{page.name}: {target}: no such heading in {dest.name}")
    return problems


# ----------------------------------------------------------------------------- generated pages


def test_generated_pages_are_current() -> None:
    assert docgen.stale() == [], "run: python ci/docs.py"


def test_check_fails_on_drift_and_write_repairs_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", copy)
    cli_md = copy / "cli.md"
    cli_md.write_text(cli_md.read_text().replace("WHEELSHIP_TARGET", "WHEELSHIP_TARGETS", 1))
    (copy / "components.md").unlink()
    assert docgen.stale(copy) == ["cli.md", "components.md"]
    assert docgen.write(copy) == ["cli.md", "components.md"]
    assert docgen.stale(copy) == []


def test_check_command_names_the_stale_page_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", copy)
    (copy / "components.md").write_text("stale\n")
    monkeypatch.setattr(docgen, "DOCS", copy)
    assert docgen.main(["--check"]) == 1
    assert capsys.readouterr().err == (
        "error: docs/components.md differ from the code — run 'python ci/docs.py' and commit\n"
    )


def test_cli_reference_lists_every_flag_with_its_variable() -> None:
    """Every option of every command, as ``--help`` shows it, is a row of docs/cli.md."""
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert "| `--fail-on-drift` | `WHEELSHIP_FAIL_ON_DRIFT` |" in text
    assert "| `--seed-file FILE` | `WHEELSHIP_EMULATOR_SEED_FILE` |" in text
    rows = [line for line in text.splitlines() if line.startswith("| `--")]
    assert rows and all(re.search(r"\| `[A-Z][A-Z0-9_]+` \|", row) for row in rows), [
        row for row in rows if not re.search(r"\| `[A-Z][A-Z0-9_]+` \|", row)
    ]


# ----------------------------------------------------------------------------- links


def test_every_relative_link_and_anchor_resolves() -> None:
    problems = [p for page in PAGES for p in broken_links(page)]
    assert problems == []


def test_the_link_check_catches_a_missing_file_and_a_missing_anchor(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## wheelship.yml\n\n## Drift, clones\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n[ok](other.md#wheelshipyml) [ok](other.md#drift-clones) [ok](#page)\n"
        "[gone](missing.md) [no anchor](other.md#nope) [here](#nowhere)\n"
        "```\n[in code](ignored.md)\n```\n[web](https://example.com/x)\n"
    )
    assert broken_links(page) == [
        "page.md: missing.md: no such file",
        "page.md: other.md#nope: no such heading in other.md",
        "page.md: #nowhere: no such heading in page.md",
    ]


# ----------------------------------------------------------------------------- the README


def test_readme_is_short_with_contents_and_the_two_commands_first() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    assert "## Contents" in text
    first, second = _blocks(text, "sh")[:2]
    assert first.strip() == (
        "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/wheelship demo"
    )
    assert second.strip() == "bash ci/test.sh"


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    command = _blocks(README.read_text(encoding="utf-8"), "sh")[1].strip()
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    steps = [line for line in script.splitlines() if line and not line.startswith(("#", "set "))]
    assert steps[-1] == command


def test_every_wheelship_yml_example_is_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each ``yaml`` block with a ``targets:`` section in the README and docs/ passes
    ``wheelship config --check`` as written."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "tsff"\nversion = "1.0.0"\n')
    examples = [
        (page.name, block)
        for page in PAGES
        for block in _blocks(page.read_text(encoding="utf-8"), "yaml")
        if re.search(r"(?m)^targets:", block)
    ]
    assert len(examples) >= 2
    for name, block in examples:
        (tmp_path / "wheelship.yml").write_text(block)
        code = main(["config", "--check", "--project", str(tmp_path)])
        assert code == 0, f"{name}:\n{block}\n{capsys.readouterr().err}"


def test_the_seed_file_example_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The seed example in docs/emulator.md loads as written (its wheel next to it, as it says)
    and its workspace keeps the invariants."""
    text = (ROOT / "docs" / "emulator.md").read_text(encoding="utf-8")
    section = text.split("## Seed file", 1)[1]
    seed = _blocks(section, "yaml")[0]
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "forecast-1.4.0-py3-none-any.whl").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    (tmp_path / "workspace.yml").write_text(seed)
    code = main(["emulator", "--check-invariants", "--seed-file", str(tmp_path / "workspace.yml")])
    assert code == 0, capsys.readouterr().err


def test_every_docs_page_is_listed_in_the_readme() -> None:
    """A page nobody links to is a page nobody reads: the README's Documentation section lists
    every page in docs/."""
    section = README.read_text(encoding="utf-8").split("## Documentation", 1)[1]
    listed = {Path(t.split("#")[0]).name for t in _LINK.findall(section) if t.startswith("docs/")}
    assert sorted(p.name for p in (ROOT / "docs").glob("*.md") if p.name not in listed) == []


def test_what_to_do_lines_point_at_pages_that_exist() -> None:
    """Error and warning texts in the code and the templates name docs/ pages (and headings)
    that exist, and no README section: the README is short and its sections move."""
    sources = [*(ROOT / "scripts" / "wheelship").rglob("*.py"), *(ROOT / "templates").glob("*.yml")]
    problems = []
    for path in sources:
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT)
        for page, anchor in re.findall(r"docs/([\w-]+\.md)(?:#([\w-]+))?", text):
            dest = ROOT / "docs" / page
            if not dest.is_file():
                problems.append(f"{name}: docs/{page}: no such page")
            elif anchor and anchor not in anchors(dest.read_text(encoding="utf-8")):
                problems.append(f"{name}: docs/{page}#{anchor}: no such heading")
        problems += [f"{name}: {m}" for m in re.findall(r"README's [\w .-]+ section", text)]
        for heading in re.findall(r"README: ([\w .-]+)\)", text):
            if f"## {heading}\n" not in README.read_text(encoding="utf-8"):
                problems.append(f"{name}: README has no section {heading!r}")
    assert problems == []
