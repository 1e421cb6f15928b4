"""behaviour.html in a real browser: headless Chromium loads it, a filter is applied, the rows are checked.

The page is the one ``bn-behaviour report`` wrote when ``BN_BEHAVIOUR_PAGE``
names it (CI does this after the report), else one rendered from every
scenario of the matrix with made-up cells.  Which rows a filter must leave
visible is computed here from the scenario IDs, never by the page's script.
A screenshot is saved to ``BN_BEHAVIOUR_SCREENSHOT`` (default: the test's
tmp dir).  Skipped when Chromium, ChromeDriver or selenium is absent.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bn_behaviour import matrices
from bn_behaviour.matrices import MATRICES, case_from_id
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


@pytest.fixture
def page(tmp_path) -> Path:
    given = os.environ.get("BN_BEHAVIOUR_PAGE")
    return Path(given).resolve() if given else _synthetic_page(tmp_path)


@pytest.mark.parametrize("wanted", FILTERS, ids=["model-and-path", "path-and-setting", "fused-input-and-model",
                                             "propagation-model-and-path"])
def test_filter_leaves_exactly_the_matching_rows_and_screenshots(browser, page, tmp_path, wanted):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(page.as_uri())
    rows = browser.find_elements(By.CSS_SELECTOR, "tbody tr")
    ids = [r.get_attribute("id") for r in rows]
    assert len(ids) == len(set(ids)) > 0
    for axis, value in wanted.items():
        Select(browser.find_element(By.CSS_SELECTOR, f'select[data-axis="{axis}"]')).select_by_value(value)
    visible = [r.get_attribute("id") for r in rows if r.is_displayed()]
    expected = [i for i in ids if _matches(i, wanted)]
    assert visible == expected and expected
    assert browser.find_element(By.ID, "count").text == str(len(expected))
    if wanted is not FILTERS[0]:
        return
    shot = Path(os.environ.get("BN_BEHAVIOUR_SCREENSHOT") or tmp_path / "behaviour-filtered.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 0


def test_each_row_is_an_anchor_and_framework_text_stays_text(browser, page):
    from selenium.webdriver.common.by import By

    browser.get(page.as_uri())
    first = browser.find_element(By.CSS_SELECTOR, "tbody tr").get_attribute("id")
    browser.get(f"{page.as_uri()}#{first}")
    assert browser.execute_script("return document.querySelector(':target').id") == first
    assert browser.find_elements(By.TAG_NAME, "script")[0].get_attribute("innerHTML").lstrip().startswith("function")
    assert len(browser.find_elements(By.TAG_NAME, "script")) == 1  # an escaped message never becomes a script
    resources = browser.execute_script("return performance.getEntriesByType('resource').length")
    assert resources == 0  # self-contained: nothing fetched
