"""The run report a person opens: the tiny pipeline's `reports/report.html` in headless
Chromium with the network cut, as it opens from disk on a machine offline."""

import pytest
from support.browser import is_blank, render_page


@pytest.fixture(scope="module")
def rendered(pipeline_repo, tmp_path_factory):
    repo, _ = pipeline_repo
    page = repo / "reports" / "report.html"
    screenshot = tmp_path_factory.mktemp("report") / "report.png"
    return page, render_page(page, screenshot, height=1200, full_page=True)


def test_the_report_renders_offline_without_errors(rendered):
    _, result = rendered
    assert result.console_errors == []
    assert result.blocked_requests == []  # nothing beyond the file itself
    assert result.images >= 6 and result.broken_images == 0  # every picture decodes
    assert not is_blank(result.screenshot)


def test_the_report_shows_every_section(rendered):
    _, result = rendered
    for heading in ("Headline numbers and their yardsticks", "Samples and real images",
                    "Classes", "Training", "Latent interpolation", "Memorisation",
                    "Samples as training data"):  # fmt: skip
        assert f"<h2>{heading}</h2>" in result.dom, heading
    assert "No Classification Accuracy Score: the generator is unconditional" in result.dom
