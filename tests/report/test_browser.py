"""The report opened in headless Chromium (Debian's `chromium`, installed by .ci/run).

Offline (every host name resolves to nothing), no console output at all (the page has no
script, so anything logged is an error), every chart in the DOM with its SVG, and a screenshot
that is not blank. A control page proves the console check can fail.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from matplotlib import image

from edgelab.report.charts import CHART_IDS
from edgelab.report.render import ReportPaths

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="chromium not installed (apt-get install -y chromium; CI installs it)",
)

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: nothing outside the file can load
    "--enable-logging=stderr",
    "--v=0",
]
CONSOLE = re.compile(r":CONSOLE[:(]")


def chromium(tmp_path: Path, url: str, *args: str) -> tuple[str, str]:
    """Run Chromium once with a fresh profile; its whole process group is killed afterwards."""
    assert CHROMIUM is not None, "chromium is not installed"
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    proc = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=150)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its zygote and renderers too
        except ProcessLookupError:
            pass
        proc.wait()
    assert proc.returncode == 0, err[-2000:]
    return out, err


def console_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if CONSOLE.search(line)]


def test_console_check_catches_an_error(tmp_path: Path) -> None:
    page = tmp_path / "control.html"
    page.write_text('<!doctype html><p>x</p><script>console.error("boom")</script>')
    _, err = chromium(tmp_path, page.as_uri(), "--dump-dom")
    assert any('"boom"' in line for line in console_lines(err))


def test_report_opens_with_every_chart(tmp_path: Path, complete_report: ReportPaths) -> None:
    dom, err = chromium(tmp_path, complete_report.html.as_uri(), "--dump-dom")
    assert console_lines(err) == []
    for chart_id in CHART_IDS:
        m = re.search(rf'<figure class="chart" id="{chart_id}">(.*?)</figure>', dom, re.S)
        assert m is not None, f"{chart_id} missing from the DOM"
        assert "<svg" in m.group(1) and "<path" in m.group(1), f"{chart_id} has no drawing"
    assert re.search(r'<td class="best">\s*100\.0%', dom)  # the table rendered, best marked


def test_screenshot_is_not_blank(tmp_path: Path, complete_report: ReportPaths) -> None:
    shot = tmp_path / "report.png"
    _, err = chromium(
        tmp_path,
        complete_report.html.as_uri(),
        f"--screenshot={shot}",
        "--window-size=1280,2400",
    )
    assert console_lines(err) == []
    pixels = image.imread(shot)
    assert pixels.shape[:2] == (2400, 1280)
    assert pixels[..., :3].std() > 0.05  # text, table and charts, not an empty page
