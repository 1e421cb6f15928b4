"""behaviour.html in a real browser: headless Chromium loads it, a filter is applied, the rows are checked.

The page is the one ``bn-behaviour report`` wrote when ``BN_BEHAVIOUR_PAGE``
names it (CI does this after the report), else one rendered from every
scenario of the matrix with made-up cells.  The page's report is the
``behaviour.json`` beside it (``bn-behaviour report`` writes both), or
``BN_BEHAVIOUR_REPORT``.  Which rows a filter must leave visible, which recipes
the at-a-glance table lists and which cells the picture draws are computed here
from the scenario IDs and the report, never by the page's script.
Screenshots (default: the test's tmp dir): ``BN_BEHAVIOUR_SCREENSHOT`` (the
table filtered), ``BN_BEHAVIOUR_SCREENSHOT_TOP`` (the top of the page: the
targets, the at-a-glance table, the picture), ``BN_BEHAVIOUR_SCREENSHOT_CLICK``
(the row a click on a picture cell leads to).  Skipped when Chromium,
ChromeDriver or selenium is absent.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from bn_behaviour import matrices
from bn_behaviour.matrices import MATRICES, case_from_id
from bn_behaviour.report import glance
from bn_behaviour.report.page import html
from bn_behaviour.targets import TARGETS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
pytestmark = [pytest.mark.harness, pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="needs Chromium and ChromeDriver (apt-get install chromium chromium-driver)"
)]
FILTERS = [{"model": "nested", "path": "fit"}, {"path": "fit", "setting": "channels_last"},
           {"input": "4d", "model": "functional"}, {"model": "after_default_training_true", "path": "call"}]


def _matches(row_id: str, wanted: dict) -> bool:
    axes = case_from_id(row_id)[1].axes()  # a workflow row has none of the scenario's axes
    return all(axes.get(k) == v for k, v in wanted.items())


def _synthetic_page(folder: Path) -> Path:
    """Every tf_keras case of the layer matrices (main, fused, settings) with made-up cells."""
    merged = {"targets": [{"name": "tf_keras", "versions": {"tf_keras": "2"}, "counts": {}}],
              "skipped_targets": {"tf1": "tensorflow is not installed"}}
    i = 0
    for name, cases in matrices.generate(TARGETS["tf_keras"]).items():
        rows = merged.setdefault(MATRICES[name].rows_key, [])
        for s in cases if MATRICES[name].cell_fields else ():
            error = "ValueError: <script>alert(1)</script>" if i % 97 == 0 else None
            mix, i = sum(map(ord, s.id)), i + 1
            case = {"status": ("pass", "deviation", "fail")[mix % 3], "deviation": "d",
                    "deviation_source": "https://x.org",
                    "observed": {"mode": ("training", "inference")[mix % 2], "moving_stats": "updated",
                                 "affine": "n/a", "error": error}}
            rows.append({"id": s.id, "cases": {"tf_keras": case}})
    path = folder / "behaviour.html"
    path.write_text(html(merged))
    (folder / "behaviour.json").write_text(json.dumps(merged))
    return path


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1600,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _open(browser, url: str) -> None:
    """Load ``url`` and wait until the whole document is parsed and its scripts ran: on a loaded machine
    chromedriver's ``get`` can return before a page of ten thousand rows is (seen in CI under load)."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 120).until(lambda b: b.execute_script(
        "return document.readyState === 'complete' && document.getElementById('count') !== null"
        " && document.getElementById('count').textContent !== ''"))


@pytest.fixture
def page(tmp_path) -> Path:
    given = os.environ.get("BN_BEHAVIOUR_PAGE")
    return Path(given).resolve() if given else _synthetic_page(tmp_path)


@pytest.fixture
def report(page) -> dict:
    """The merged report the page was rendered from."""
    return json.loads(Path(os.environ.get("BN_BEHAVIOUR_REPORT") or page.with_name("behaviour.json")).read_text())


def _shot(browser, variable: str, default: Path) -> None:
    shot = Path(os.environ.get(variable) or default)
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 0


@pytest.mark.parametrize("wanted", FILTERS, ids=["model-and-path", "path-and-setting", "fused-input-and-model",
                                             "propagation-model-and-path"])
def test_filter_leaves_exactly_the_matching_rows_and_screenshots(browser, page, tmp_path, wanted):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _open(browser, page.as_uri())
    rows = browser.find_elements(By.CSS_SELECTOR, "#scenarios tbody tr")
    ids = [r.get_attribute("id") for r in rows]
    assert len(ids) == len(set(ids)) > 0
    for axis, value in wanted.items():
        Select(browser.find_element(By.CSS_SELECTOR, f'select[data-axis="{axis}"]')).select_by_value(value)
    visible = [r.get_attribute("id") for r in rows if r.is_displayed()]
    expected = [i for i in ids if _matches(i, wanted)]
    assert visible == expected and expected
    assert browser.find_element(By.ID, "count").text == str(len(expected))
    if wanted is FILTERS[0]:
        _shot(browser, "BN_BEHAVIOUR_SCREENSHOT", tmp_path / "behaviour-filtered.png")


def test_each_row_is_an_anchor_and_framework_text_stays_text(browser, page):
    from selenium.webdriver.common.by import By

    _open(browser, page.as_uri())
    first = browser.find_element(By.CSS_SELECTOR, "#scenarios tbody tr").get_attribute("id")
    _open(browser, f"{page.as_uri()}#{first}")
    assert browser.execute_script("return document.querySelector(':target').id") == first
    assert browser.find_elements(By.TAG_NAME, "script")[0].get_attribute("innerHTML").lstrip().startswith("function")
    assert len(browser.find_elements(By.TAG_NAME, "script")) == 1  # an escaped message never becomes a script
    resources = browser.execute_script("return performance.getEntriesByType('resource').length")
    assert resources == 0  # self-contained: nothing fetched


def test_the_first_table_is_the_answer_at_a_glance_and_screenshots_the_top(browser, page, report, tmp_path):
    from selenium.webdriver.common.by import By

    _open(browser, page.as_uri())
    first = browser.find_elements(By.TAG_NAME, "table")[0]
    names = [t["name"] for t in report["targets"]]
    assert [th.text.replace("\n", "") for th in first.find_elements(By.CSS_SELECTOR, "thead th")] == ["recipe", *names]
    rows = first.find_elements(By.CSS_SELECTOR, "tbody tr")
    expected = glance.rows(report)
    assert len(rows) == len(expected) > 0
    for tr, (recipe, words) in zip(rows, expected):
        link, *cells = tr.find_elements(By.TAG_NAME, "td")
        href = link.find_element(By.TAG_NAME, "a").get_attribute("href")
        assert href == page.with_name("fine-tuning.md").as_uri() + "#" + recipe.id
        assert [c.text.replace("\n", " ") for c in cells] == [words[n] for n in names]
    # The picture follows the table, before the full table.
    assert browser.execute_script(
        "const [g, p, t] = ['table.glance', 'svg.bn-grid', '#scenarios'].map(s => document.querySelector(s));"
        "return !!(g.compareDocumentPosition(p) & 4) && !!(p.compareDocumentPosition(t) & 4)")
    try:
        browser.set_window_size(1600, 2400)
        bottom, inner = browser.execute_script(
            "return [document.querySelector('svg.bn-grid').getBoundingClientRect().bottom, innerHeight]")
        browser.set_window_size(1600, int(bottom) + 16 + 2400 - inner)  # the window's frame is not page
        _shot(browser, "BN_BEHAVIOUR_SCREENSHOT_TOP", tmp_path / "behaviour-top.png")
    finally:
        browser.set_window_size(1600, 1000)


def test_the_picture_has_one_cell_per_scenario_per_target_linking_to_its_row(browser, page, report):
    _open(browser, page.as_uri())
    drawn = browser.execute_script(
        "return Array.from(document.querySelectorAll('svg.bn-grid a rect[data-target]'),"
        " r => [r.closest('a').getAttribute('href'), r.getAttribute('data-target')])")
    expected = [(f"#{row['id']}", t) for m in MATRICES.values() for row in report.get(m.rows_key, [])
                for t in row["cases"]]
    assert sorted(map(tuple, drawn)) == sorted(expected)
    for t in report["targets"]:  # one cell per record: per target, as many as it has rows
        assert sum(1 for _, name in drawn if name == t["name"]) == sum(
            t["name"] in row["cases"] for m in MATRICES.values() for row in report.get(m.rows_key, []))


def _cell(browser, row_id: str, target: str):
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, f'svg.bn-grid a[href="#{row_id}"] rect[data-target="{target}"]')


@pytest.mark.parametrize("hidden", [False, True], ids=["row-shown", "row-hidden-by-a-filter"])
def test_clicking_a_picture_cell_goes_to_its_row(browser, page, report, tmp_path, hidden):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    rows = [row for m in MATRICES.values() for row in report.get(m.rows_key, [])]
    row = rows[len(rows) * 2 // 3]  # far below the picture
    target = next(t["name"] for t in reversed(report["targets"]) if t["name"] in row["cases"])
    _open(browser, page.as_uri())
    tr = browser.find_element(By.ID, row["id"])
    if hidden:  # a status filter the row does not have hides it; the link must still show it
        statuses = tr.get_attribute("data-status").split()
        select = Select(browser.find_element(By.CSS_SELECTOR, 'select[data-axis="status"]'))
        select.select_by_value(next(o.get_attribute("value") for o in select.options
                                    if o.get_attribute("value") and o.get_attribute("value") not in statuses))
        assert not tr.is_displayed()
    title = _cell(browser, row["id"], target).find_element(By.TAG_NAME, "title").get_attribute("textContent")
    assert title.startswith(f"{row['id']}\n{target}: ")
    _cell(browser, row["id"], target).click()
    WebDriverWait(browser, 5).until(lambda b: b.execute_script("return location.hash") == f"#{row['id']}")
    assert browser.execute_script("return document.querySelector(':target').id") == row["id"]
    # 'hashchange' is dispatched as a task after the hash changes (HTML spec), so the page's
    # handler that clears the filters may run after the wait above returns: wait for it.
    WebDriverWait(browser, 5).until(lambda b: tr.is_displayed())
    top, bottom, height, seen = browser.execute_script(
        "const r = arguments[0].getBoundingClientRect(), e = document.elementFromPoint(r.left + 4, r.top + 4);"
        "return [r.top, r.bottom, innerHeight, e && e.closest('tr') && e.closest('tr').id]", tr)
    assert 0 <= top < bottom <= height and seen == row["id"]  # in view, not under the sticky header
    if not hidden:
        _shot(browser, "BN_BEHAVIOUR_SCREENSHOT_CLICK", tmp_path / "behaviour-after-click.png")
