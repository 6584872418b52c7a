"""Make docs/page.png, the README's picture of output/prefixes.html, again.

The page of the shipped database as ``python -m ipam --once`` writes it (in a temp directory),
in the headless Chromium the page's tests use, after finding ``10.10.2.77`` and listing the
free blocks of the prefix holding it. Needs the test extra and Debian's chromium and
chromium-driver:

    python docs/make_screenshot.py            # writes docs/page.png
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
    print(f"wrote {PICTURE.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
