"""The front door: the README stays a short guide, every link in the repository's pages
resolves inside a clone, and code and models cite the business by docs/domain.md's
sections, never by a document a clone does not hold."""

from __future__ import annotations

import re
import subprocess

from tests.support import PROJECT

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
DOMAIN_CITE = re.compile(r"docs/domain\.md#([a-z0-9-]+)|\(domain\.md#([a-z0-9-]+)\)")


def _tracked(*patterns: str) -> list:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *patterns],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [PROJECT / p for p in out if (PROJECT / p).is_file()]


def anchors(page) -> set[str]:
    """GitHub's anchors of a Markdown page's headings."""
    found = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"#+ (.+)", line):
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            found.add(slug)
    return found


def test_the_readme_is_a_guide_of_at_most_two_hundred_lines():
    lines = (PROJECT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, len(lines)
    text = "\n".join(lines)
    for must in ("make demo", "make test", "make airflow", "make next-day", "docs/domain.md"):
        assert must in text, must


def test_every_link_in_the_pages_resolves_inside_the_clone():
    broken = []
    for page in _tracked("*.md"):
        if ".venv" in page.parts:
            continue
        text = page.read_text(encoding="utf-8")
        for target in LINK.findall(text):
            if target.startswith(("http://", "https://", "mailto:")):
                broken.append(f"{page.relative_to(PROJECT)}: {target} leaves the repository")
                continue
            path, _, anchor = target.partition("#")
            where = (page.parent / path).resolve() if path else page
            if not where.is_relative_to(PROJECT) or not where.exists():
                broken.append(f"{page.relative_to(PROJECT)}: {target}")
            elif anchor and where.suffix == ".md" and anchor not in anchors(where):
                broken.append(f"{page.relative_to(PROJECT)}: {target} (no such section)")
    assert broken == []


def test_code_and_models_cite_the_business_by_its_sections_in_the_repository():
    sections = anchors(PROJECT / "docs" / "domain.md")
    stale, unknown = [], []
    for path in _tracked("*.py", "*.sql", "*.yml", "*.yaml", "*.md", "*.csv"):
        text = path.read_text(encoding="utf-8", errors="replace")
        name = str(path.relative_to(PROJECT))
        if name == "tests/test_docs.py":
            continue
        if re.search(r"seed 00\d|domain(\.md)? §|\.\./shared|seed-documents", text):
            stale.append(name)
        for a, b in DOMAIN_CITE.findall(text):
            if (a or b) not in sections:
                unknown.append(f"{name}: #{a or b}")
    assert stale == [], "cites a document a clone does not hold"
    assert unknown == [], "cites a section docs/domain.md does not have"


def test_the_dbt_docs_site_opens_on_kairos_own_overview(tmp_path):
    """dbt's generic welcome is replaced by what Kairos is and the marts by question."""
    import json
    import os
    import sys
    from pathlib import Path

    dbt = str(Path(sys.executable).with_name("dbt"))
    env = dict(os.environ, KAIROS_WAREHOUSE=":memory:", KAIROS_PROJECT_DIR=str(PROJECT))
    args = ["parse", "--profiles-dir", str(PROJECT), "--target-path", str(tmp_path)]
    proc = subprocess.run([dbt, *args], cwd=PROJECT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    docs = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["docs"]
    overview = docs["doc.kairos.__overview__"]["block_contents"]
    assert "The marts, by question" in overview
    marts = {p.stem for p in (PROJECT / "dbt_project" / "models" / "marts").rglob("*.sql")}
    assert {m for m in marts if f"`{m}`" not in overview} == set(), "a mart the overview omits"


def test_every_key_column_of_the_models_is_named_in_the_warehouse_keys_table():
    """A key keeps one name across the models (the task mart once called the warning's
    key ``task_key``): every documented ``*_id``/``*_key`` column is in the table."""
    page = (PROJECT / "docs" / "warehouse.md").read_text(encoding="utf-8")
    table = page.split("## Keys", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([a-z_]+_(?:id|key))`", table))
    documented = {
        name
        for path in (PROJECT / "dbt_project" / "models").rglob("*.yml")
        for name in re.findall(
            r"^\s+- name: ([a-z_]+_(?:id|key))\s*$", path.read_text(encoding="utf-8"), re.M
        )
    }
    assert documented, "no key column found: the pattern is wrong"
    assert sorted(documented - listed) == []
