"""The report of the tiny sweep opened in a real browser: headless Chromium (Debian's
``chromium``, installed by ``.ci/run``) loads it offline without a console message, and the
page's own check finds every figure drawn and every table present."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

CHROMIUM = shutil.which("chromium")
FIGURES, TABLES = 5, 5


def chromium(page, tmp_path, *args) -> tuple[str, list[str]]:
    """Open ``page`` in headless Chromium: the DOM after load and the console messages."""
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
        page.as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console


@pytest.fixture
def page(report_page):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return report_page


def test_the_report_loads_without_console_errors(page, tmp_path):
    dom, console = chromium(page, tmp_path, "--dump-dom")
    assert console == []
    assert f'data-checked="{FIGURES} figures, {TABLES} tables"' in dom


def test_the_check_fails_on_a_broken_page(page, tmp_path):
    broken = tmp_path / "broken.html"
    # one figure without its drawing, and a script error
    text = re.sub(r"<svg.*?</svg>", "", page.read_text(), count=1, flags=re.S)
    broken.write_text(text.replace("</body>", "<script>notDefined();</script></body>"))
    dom, console = chromium(broken, tmp_path, "--dump-dom")
    assert 'data-checked="failed"' in dom
    assert any("figures not drawn: curves-steps" in m for m in console)
    assert any("notDefined" in m for m in console)


def test_a_screenshot_of_the_report(page, tmp_path):
    shot = tmp_path / "report.png"
    chromium(page, tmp_path, "--window-size=1280,1600", f"--screenshot={shot}")
    import numpy as np
    from PIL import Image

    image = Image.open(shot)
    assert image.size == (1280, 1600)
    grey = np.asarray(image.convert("L").resize((64, 80)))
    assert len(np.unique(grey)) > 10  # not a blank page
