import pytest
from tests.browser_support import chromium_page

from trainguard.report import write_report

pytestmark = pytest.mark.browser


def test_report_renders_in_chromium_without_errors(sample_run):
    run = sample_run
    html = write_report(run, "html")
    with chromium_page() as (page, errors):
        page.goto(html.resolve().as_uri())
        assert page.title() == "trainguard report: unit test"
        assert page.locator("section.stage").count() == 2
        assert page.locator("table.summary tbody tr").count() == 2
        imgs = page.locator(".plots img")
        assert imgs.count() == 3
        # every embedded plot decoded to a real picture
        assert all(imgs.nth(i).evaluate("el => el.naturalWidth") > 50 for i in range(imgs.count()))
        assert "gate(s) failed" in page.locator("#verdict").inner_text()
        page.screenshot(path=str(run.path / "report.png"), full_page=True)
        assert errors == []
    assert (run.path / "report.png").stat().st_size > 10_000
