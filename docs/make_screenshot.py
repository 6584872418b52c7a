"""Make docs/page.png, the README's picture of output/prefixes.html, and docs/page-phone.png again.

The page of the shipped database as ``python -m ipam --once`` writes it (in a temp directory),
in the headless Chromium the page's tests use, after finding ``10.10.2.77`` and listing the
free blocks of the prefix holding it; then the same page as a phone 390 CSS pixels wide shows
it (emulated through the DevTools protocol, as the tests do) after the same find. Needs the test
extra and Debian's chromium and chromium-driver:

    python docs/make_screenshot.py            # writes docs/page.png and docs/page-phone.png
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from ipam.service import run_once  # noqa: E402
from ipam.tests import browser  # noqa: E402

PICTURE = REPO_ROOT / "docs" / "page.png"
WIDTH, HEIGHT = 1100, 640
PHONE_PICTURE = REPO_ROOT / "docs" / "page-phone.png"
# A phone's window in CSS pixels, and its pixels per CSS pixel (2 keeps the file small).
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}


def main() -> int:
    reason = browser.skip_reason()
    if reason:
        print(f"cannot make the screenshot: {reason}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as scratch:
        page = Path(scratch) / "prefixes.html"
        os.chdir(REPO_ROOT)  # the header shows the database as the service names it
        run_once(Path("database/prefixes.db"), Path(scratch) / "prefixes.json", page)
        with browser.chromium(WIDTH, HEIGHT) as driver:
            browser.open_page(driver, page)
            driver.find_element("css selector", "#n0 > .row").click()  # open 10.0.0.0/8
            driver.find_element("id", "query").send_keys("10.10.2.77\n")
            driver.find_element("id", "free-button").click()
            driver.execute_script("window.scrollTo(0, 0)")
            driver.save_screenshot(str(PICTURE))
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
            browser.open_page(driver, page)
            driver.find_element("id", "query").send_keys("10.10.2.77\n")
            driver.execute_script("window.scrollTo(0, 0)")
            driver.save_screenshot(str(PHONE_PICTURE))
    for picture in (PICTURE, PHONE_PICTURE):
        print(f"wrote {picture.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
