"""The published table: the index ``docs/behaviour.md``, its pages ``docs/behaviour/*.md``, and the links into them.

The committed documents are read as they are (no framework runs, nothing rendered from a run): every
published row ID still lands in the index, one link from there opens the table that holds its row, every
row link of the other documents lands on an anchor, and no generated document is over ``pages.LIMIT``.
"""

from __future__ import annotations

import fnmatch
import json
import re
from functools import cache
from pathlib import Path

import pytest
from test_documents import _merged

from bn_behaviour import cli
from bn_behaviour.matrices import MATRICES
from bn_behaviour.report import documents, pages

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PUBLISHED = {p.name: p.read_text().split() for p in sorted(Path(__file__).parent.glob("published_*ids.txt"))}
ANCHOR = re.compile(r'<a (?:id|name)="([^"]+)"')
#: A relative Markdown link (or an HTML href) to a .md file, and its fragment if any.
LINK = re.compile(r'(?:\]\(|href=")(?!https?:)([^)"\s#]*\.md)(?:#([^)"\s]+))?[)"]')


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading.

    >>> slug("Fine-tuning with a frozen `BatchNormalization`!")
    'fine-tuning-with-a-frozen-batchnormalization'
    """
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    """Every anchor of a document: explicit ones and its headings'."""
    text = path.read_text()
    headings = re.findall(r"^#+ (.+)$", text, flags=re.M)
    return frozenset(ANCHOR.findall(text)) | {slug(h) for h in headings}


@cache
def tables(page: Path) -> dict[str, set[str]]:
    """A page's family anchors (on its headings), each with the row IDs of the table under it."""
    out: dict[str, set[str]] = {}
    current = None
    for line in page.read_text().splitlines():
        if line.startswith("#"):
            found = ANCHOR.findall(line)
            current = found[0] if found else None
            if current:
                out[current] = set()
        elif line.startswith("| <a id=") and current:
            out[current].add(ANCHOR.findall(line)[0])
    return out


@cache
def index_entries() -> dict[str, str]:
    """Each anchor of the index, with the line (its entry) it is on."""
    return {a: line for line in (DOCS / pages.INDEX).read_text().splitlines() for a in ANCHOR.findall(line)}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_every_published_id_lands_in_the_index_one_link_from_its_row(name):
    entries = index_entries()
    for case_id in PUBLISHED[name]:
        assert case_id in entries, f"behaviour.md#{case_id} lands nowhere"
        links = LINK.findall(entries[case_id])
        assert len(links) == 1, f"the entry of {case_id} has {len(links)} links"
        (target, fragment), = links
        page = DOCS / target
        assert page.parent == DOCS / pages.FOLDER and page.exists(), target
        assert case_id in tables(page).get(fragment, set()), f"{target}#{fragment} is not the table of {case_id}"
        # and the row keeps its full ID as anchor, where every other document links it
        on_page, row_anchor = pages.row_href(case_id).split("#")
        assert (DOCS / on_page) == page and row_anchor in anchors(page)


def _generated() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*") if p.suffix in (".md", ".html", ".svg"))


@pytest.mark.parametrize("path", _generated(), ids=lambda p: str(p.relative_to(DOCS)))
def test_no_document_is_over_the_limit(path):
    assert path.stat().st_size <= pages.LIMIT, f"{path} is {path.stat().st_size} bytes"


def _linking() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md")), *sorted((DOCS / pages.FOLDER).glob("*.md"))]


@pytest.mark.parametrize("path", _linking(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_to_a_document_lands_on_it_and_on_an_anchor_of_it(path):
    broken = []
    for target, fragment in set(LINK.findall(path.read_text())):
        doc = (path.parent / target).resolve()
        if not doc.exists() or (fragment and fragment not in anchors(doc)):
            broken.append(f"{target}#{fragment}")
    assert not broken, f"{len(broken)} broken, e.g. {sorted(broken)[:5]}"


def test_the_readme_cites_rows_the_index_still_has():
    text = (ROOT / "README.md").read_text() + "".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
    cited = {i for i in re.findall(r"behaviour\.md#([^)`\s]+)", text) if not i.startswith("<")}
    assert cited <= set(index_entries()), cited - set(index_entries())


def test_each_matrix_has_its_pages_and_every_id_matches_its_family_in_the_index():
    """No two matrices publish on one page, and each family's ID pattern (how the index shows it) matches
    every case listed in it: a matrix's ``layout`` is the one source of where its rows are published."""
    owner: dict[str, str] = {}
    for name, matrix in MATRICES.items():
        layout = matrix.layout
        for case in matrix.candidates():
            page = layout.page(case)
            assert owner.setdefault(page, name) == name, f"{page}.md holds rows of {owner[page]} and {name}"
            pattern = layout.pattern.format(layout.family(case)).replace("…", "*")
            assert fnmatch.fnmatchcase(case.id, pattern), (case.id, pattern)


def test_the_index_and_pages_hold_every_row_of_a_report_and_links_land_on_them():
    merged = _merged(lambda s: ["mode"] if s.path == "fit" else [])
    docs = pages.render(merged)
    index = docs[pages.INDEX]
    for row in merged["rows"]:
        assert f'<a id="{row["id"]}"></a>' in index
        page, anchor = pages.row_href(row["id"]).split("#")
        assert f'| <a id="{anchor}"></a>`{anchor}`' in docs[page]
    assert all(f"[the index](../{pages.INDEX})" in text for name, text in docs.items() if name != pages.INDEX)


def test_docs_check_names_missing_and_leftover_pages_and_write_removes_leftovers(tmp_path, capsys):
    merged = _merged()
    source = tmp_path / "behaviour.json"
    source.write_text(json.dumps(merged))
    out = tmp_path / "docs"
    assert cli.main(["docs", str(source), "--out", str(out)]) == 0
    page = out / pages.row_href(merged["rows"][0]["id"]).split("#")[0]
    page.unlink()
    leftover = out / pages.FOLDER / "no_such_model.md"
    leftover.write_text("a page of rows since removed\n")
    capsys.readouterr()
    assert cli.main(["docs", str(source), "--out", str(out), "--check"]) == 1
    said = capsys.readouterr().out
    assert f"{page} (missing) is stale" in said and f"{leftover} (a page no row is published on) is stale" in said
    assert cli.main(["docs", str(source), "--out", str(out)]) == 0
    assert page.exists() and not leftover.exists()
    assert documents.stale(merged, out) == []
