"""Headless Chromium through Selenium, for the page's tests, its screenshot and its benchmark.

Debian's ``chromium`` and ``chromium-driver`` (``/usr/bin/chromedriver``), never a downloaded
browser: the driver's path is given, so Selenium Manager never runs. ``skip_reason()`` says why
no browser can run here (the tests then skip, saying so).

axe-core, the accessibility checker the page's tests inject, comes from the npm registry at a
pinned version (``.ci/run`` installs it): ``IPAM_AXE_CORE`` names its ``axe.min.js``, else it is
looked for in a git-ignored ``node_modules`` at the repository's root.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("IPAM_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("IPAM_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
AXE_VERSION = "4.14.1"  # the one .ci/run installs; the tests say so when another is found
AXE_CORE = Path(
    os.environ.get("IPAM_AXE_CORE")
    or Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
)
# The rules of WCAG 2.1 levels A and AA (axe-core's tags), nothing else (no best practices).
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FLAGS = (
    "--headless=new",
    "--no-sandbox",  # root in CI, and containers without user namespaces
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)


def skip_reason() -> str | None:
    """None when a browser can run; else why not."""
    try:
        import selenium  # noqa: F401, PLC0415
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"no {path}: install Debian's {package} (apt-get install {package})"
    return None


def axe_skip_reason() -> str | None:
    """None when axe-core's file is there; else why not."""
    if not AXE_CORE.is_file():
        return (
            f"no {AXE_CORE}: npm install --no-save --prefix . axe-core@{AXE_VERSION}"
            " (or set IPAM_AXE_CORE to an axe.min.js)"
        )
    return None


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A headless Chromium WebDriver with a fresh profile, and its network log switched on."""
    from selenium import webdriver  # noqa: PLC0415
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    profile = tempfile.mkdtemp(prefix="ipam-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    # The browser's own record of every request: what "the page makes no request" is checked on.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_page(driver: Any, page: Path) -> None:
    """Load the page from file:// and wait until its script has built the first rows."""
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    driver.get(page.resolve().as_uri())
    WebDriverWait(driver, 60).until(
        lambda _: driver.execute_script("return document.documentElement.dataset.ready === 'true'")
    )


def color_scheme(driver: Any, scheme: str) -> None:
    """Make the page see ``prefers-color-scheme: scheme`` (light or dark), as a user's system
    setting would, through the DevTools protocol."""
    features = [{"name": "prefers-color-scheme", "value": scheme}]
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "", "features": features})


AXE_RUN_JS = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})
  .then(result => done([axe.version, result.violations.map(violation => [
    violation.id, violation.impact,
    violation.nodes.map(node => node.target.join(' ') + ': ' + node.failureSummary)])]))
  .catch(error => done(['error', String(error)]));
"""


def axe_violations(driver: Any) -> list[list[object]]:
    """axe-core's WCAG 2.1 A and AA violations on the page as it is now: [rule, impact, where]."""
    if not driver.execute_script("return typeof axe !== 'undefined'"):
        driver.execute_script(AXE_CORE.read_text(encoding="utf-8"))  # CDP: past the page's CSP
    driver.set_script_timeout(120)
    version, violations = driver.execute_async_script(AXE_RUN_JS, WCAG_21_AA)
    assert version == AXE_VERSION, f"axe-core {version} at {AXE_CORE}, not {AXE_VERSION}"
    result: list[list[object]] = violations
    return result
