"""prefixes.html in a real browser (headless Chromium): the tree equals ``tree --json``, the
WAI-ARIA keys work, find selects the right node, free blocks are exact, database text is never
markup, and the page asks the network for nothing. Skipped, saying why, without Chromium."""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

import ipam.free
from ipam.hierarchy import build_hierarchy
from ipam.networks import network_key, network_text
from ipam.service import run_once
from ipam.store import read_prefix_table
from ipam.tests import browser
from ipam.tests.helpers import REPO_ROOT, make_database
from ipam.tests.test_tree import tables
from ipam.tree import Node, build_tree, percent

SHIPPED = REPO_ROOT / "database" / "prefixes.db"
SKIP = browser.skip_reason()
if SKIP is not None and os.environ.get("IPAM_REQUIRE_BROWSER") == "1":  # CI: no skipping
    pytest.fail(f"IPAM_REQUIRE_BROWSER=1 but {SKIP}", pytrace=False)
pytestmark = pytest.mark.skipif(SKIP is not None, reason=f"no browser: {SKIP}")
INJECTED = "window.injected = true"
HARD_VALUES: list[object] = [
    "10.0.0.0/8", "10.0.0.0/8", " 10.1.2.3/16", "10.1.0.0/255.255.255.0", "10.1.0.7/32",
    "0.0.0.0/0", "::/0", "::ffff:10.1.0.0/112", "::ffff:10.1.0.5/128", "2001:DB8::/32",
    "2001:db8::1/128", "2001:db8:0:1::/64", "192.168.0.0/16", "192.168.255.255/32",
    f"<img src=x onerror=\"{INJECTED}\">", "</script><script>" + INJECTED + "</script>",
    "a\u2028b\u2029c", "<svg onload=alert(1)>", None, "", 7, b"\x00<b>",
    "2001:db8:0:1::5/64",
]  # fmt: skip
HARD_IDS: list[object] = [
    *range(1, 15),
    "<i>15</i>",
    "</script>16",
    "seventeen\u2028",
    18,
    19,
    "<svg onload=alert(2)>",
    21,
    22,
    "x' onmouseover='y",
]

ROWS_JS = """
return [...document.querySelectorAll('[role=treeitem]')].map(item => [
  Number(item.getAttribute('aria-level')),
  item.querySelector('.text').textContent,
  item.querySelector('.ids').textContent,
  item.querySelector('.count').textContent,
  item.querySelector('.percent').textContent,
  item.getAttribute('aria-expanded'),
]);
"""
OPEN_ALL_JS = """
for (;;) {
  const closed = document.querySelector('[role=treeitem][aria-expanded=false] > .row');
  const more = document.querySelector('#tree button.more');
  if (closed) closed.click(); else if (more) more.click(); else break;
}
"""
FIND_JS = """
const box = document.getElementById('query');
box.value = arguments[0];
document.getElementById('find').requestSubmit();
const item = document.querySelector('[role=treeitem][aria-selected=true]');
return [document.getElementById('found').textContent,
        item && document.activeElement === item ? item.querySelector('.text').textContent : null];
"""


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with browser.chromium() as chromium:
        yield chromium


def write_page(tmp_path: Path, values: Sequence[object], ids: Sequence[object]) -> Path:
    """The page of a table of these rows (the ids untyped: TEXT ids too)."""
    rows = list(zip(ids, values))
    database = make_database(tmp_path / "prefixes.db", rows, schema="id, prefix")
    html = tmp_path / "prefixes.html"
    run_once(database, tmp_path / "prefixes.json", html)
    return html


def read_table(database: Path) -> tuple[list[object], list[object]]:
    """The prefixes and ids in the order the run reads them (by id: numbers before text)."""
    table = read_prefix_table(database)
    return table.prefixes, table.ids


def shipped_page(tmp_path: Path) -> Path:
    html = tmp_path / "prefixes.html"
    run_once(SHIPPED, tmp_path / "prefixes.json", html)
    return html


def ids_text(ids: list[object]) -> str:
    shown = ["None" if value is None else str(value) for value in ids]
    return f"id{'s' if len(ids) > 1 else ''} {','.join(shown)}"


def expected_rows(values: Sequence[object], ids: Sequence[object]) -> list[list[object]]:
    """What ``tree --json`` says of each node, as the page's rows show it."""
    return [
        [
            node.depth + 1,
            node.prefix,
            ids_text(node.ids),
            f"{node.children} child{'' if node.children == 1 else 'ren'}",
            percent(node.used, node.size),
            ("false" if node.children else None),
        ]
        for node in build_tree(values, ids).nodes()
    ]


def opened_rows(driver: Any, page: Path) -> list[list[object]]:
    driver.get_log("performance")  # drained: from here on, the log is this page's
    browser.open_page(driver, page)
    driver.execute_script(OPEN_ALL_JS)
    rows: list[list[object]] = driver.execute_script(ROWS_JS)
    for row in rows:
        assert row[5] in (None, "true"), row  # every node with children is open now
        row[5] = "false" if row[5] else None
    return rows


def test_the_shipped_database_opened_node_by_node_is_the_tree(driver: Any, tmp_path: Path) -> None:
    page = shipped_page(tmp_path)
    values, ids = read_shipped()
    browser.open_page(driver, page)
    roots = driver.execute_script(ROWS_JS)
    expected = expected_rows(values, ids)
    assert roots == [row for row in expected if row[0] == 1]  # roots only, all closed
    assert opened_rows(driver, page) == expected
    summary = driver.find_element("id", "summary").text
    for text in ("database/prefixes.db", "rows\n28", "valid\n28", "invalid\n0", "networks\n27"):
        assert text.replace("database/", str(SHIPPED.parent) + "/") in summary or text in summary


def read_shipped() -> tuple[list[object], list[object]]:
    return read_table(SHIPPED)


def test_hard_values_are_the_tree_and_never_markup(driver: Any, tmp_path: Path) -> None:
    page = write_page(tmp_path, HARD_VALUES, HARD_IDS)
    values, ids = read_table(tmp_path / "prefixes.db")
    assert opened_rows(driver, page) == expected_rows(values, ids)
    assert_nothing_injected(driver)
    invalid = driver.execute_script(
        "return [...document.querySelectorAll('#invalid tbody tr')]"
        ".map(row => [...row.cells].map(cell => cell.textContent))"
    )
    tree = build_tree(values, ids)
    assert invalid == [
        [str(row.id), json.dumps(row.prefix.hex() if isinstance(row.prefix, bytes) else row.prefix,
                                 ensure_ascii=False), row.error]
        for row in tree.invalid_rows
    ]  # fmt: skip
    assert_no_request(driver, page)


def assert_nothing_injected(driver: Any) -> None:
    """No element came from database text, no script of it ran (no dialog opened either: Selenium
    would raise UnexpectedAlertPresentException)."""
    counts = driver.execute_script(
        "return [document.scripts.length, document.images.length, window.injected === undefined,"
        " document.querySelectorAll('b, i, img, iframe, object, embed').length]"
    )
    assert counts == [2, 0, True, 0]


def assert_no_request(driver: Any, page: Path) -> None:
    """The browser's own network log: nothing was requested but the page itself."""
    uri = page.resolve().as_uri()
    requests = []  # (url, the document it was made for)
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            params = message["params"]
            requests.append((params["request"]["url"], params.get("documentURL")))
    assert (uri, uri) in requests, "the log did not see the page itself: it is not recording"
    # Chromium's own new-tab page may still be loading its files at start: requests made for a
    # chrome:// document are the browser's. Every other one would be the page's.
    others = [
        (url, document)
        for url, document in requests
        if (url, document) != (uri, uri) and not str(document).startswith("chrome")
    ]
    assert others == []


@settings(max_examples=12)
@given(values=tables())
def test_generated_tables_opened_node_by_node_are_the_tree(
    driver: Any, tmp_path_factory: pytest.TempPathFactory, values: list[object]
) -> None:
    tmp_path = tmp_path_factory.mktemp("page")
    ids = list(range(1, len(values) + 1))
    page = write_page(tmp_path, values, ids)
    assert opened_rows(driver, page) == expected_rows(values, ids)


# -- The keyboard, per the WAI-ARIA Authoring Practices tree view


def focused(driver: Any) -> list[object]:
    return driver.execute_script(
        "const item = document.activeElement;"
        "const selected = [...document.querySelectorAll('[aria-selected=true]')];"
        "return [item.getAttribute('role'), item.querySelector('.text').textContent,"
        " selected.length === 1 && selected[0] === item, item.getAttribute('aria-expanded')]"
    )


def test_the_keys_of_the_tree_pattern(driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains  # noqa: PLC0415
    from selenium.webdriver.common.keys import Keys  # noqa: PLC0415

    browser.open_page(driver, shipped_page(tmp_path))
    roots = [row[1] for row in driver.execute_script(ROWS_JS)]
    driver.find_element("id", "query").click()
    ActionChains(driver).send_keys(Keys.TAB).perform()  # the tree's one tab stop
    ActionChains(driver).send_keys(Keys.TAB).perform()
    assert focused(driver)[1] == roots[0]

    def press(key: str) -> list[object]:
        ActionChains(driver).send_keys(key).perform()
        return focused(driver)

    assert press(Keys.ARROW_DOWN) == ["treeitem", roots[1], True, "false"]
    assert press(Keys.ARROW_UP) == ["treeitem", "10.0.0.0/8", True, "false"]
    assert press(Keys.ARROW_LEFT) == ["treeitem", "10.0.0.0/8", True, "false"]  # a root: stays
    assert press(Keys.ARROW_RIGHT) == ["treeitem", "10.0.0.0/8", True, "true"]  # opens
    assert press(Keys.ARROW_RIGHT) == ["treeitem", "10.10.0.0/16", True, "false"]  # enters
    assert press(Keys.ARROW_RIGHT) == ["treeitem", "10.10.0.0/16", True, "true"]
    assert press(Keys.ARROW_DOWN) == ["treeitem", "10.10.1.0/24", True, "false"]
    assert press(Keys.ARROW_LEFT) == ["treeitem", "10.10.0.0/16", True, "true"]  # the parent
    assert press(Keys.ARROW_UP) == ["treeitem", "10.0.0.0/8", True, "true"]
    assert press(Keys.ARROW_DOWN)[1] == "10.10.0.0/16"
    assert press(Keys.ARROW_LEFT) == ["treeitem", "10.10.0.0/16", True, "false"]  # closes
    assert press(Keys.ARROW_DOWN)[1] == "10.20.0.0/16"  # after the closed node: its sibling
    assert press(Keys.ARROW_DOWN)[1] == roots[1]
    assert press(Keys.ARROW_UP)[1] == "10.20.0.0/16"  # back into the open parent, its last
    assert press(Keys.END)[1] == roots[-1]
    assert press(Keys.ARROW_DOWN)[1] == roots[-1]  # nothing after the last
    assert press(Keys.HOME)[1] == roots[0]
    assert press(Keys.ARROW_UP)[1] == roots[0]  # nothing before the first
    assert press(Keys.ENTER)[3] == "false"  # Enter closes the open node
    assert press(Keys.SPACE)[3] == "true"  # and opens it again
    levels = driver.execute_script(ROWS_JS)
    assert [row[:2] for row in levels[:3]] == [
        [1, "10.0.0.0/8"],
        [2, "10.10.0.0/16"],
        [2, "10.20.0.0/16"],
    ]


def test_a_mouse_click_opens_closes_and_selects(driver: Any, tmp_path: Path) -> None:
    browser.open_page(driver, shipped_page(tmp_path))
    row = driver.find_element("css selector", "#n0 > .row")
    row.click()
    assert focused(driver) == ["treeitem", "10.0.0.0/8", True, "true"]
    assert driver.find_element("id", "details-title").text == "10.0.0.0/8"
    row.click()
    assert focused(driver)[3] == "false"
    assert (
        driver.execute_script("return document.querySelectorAll('#n0 [role=treeitem]').length") == 0
    )


# -- Find


def find(driver: Any, text: str) -> list[str | None]:
    result: list[str | None] = driver.execute_script(FIND_JS, text)
    return result


def test_find_selects_the_closest_node_opens_its_ancestors_and_shows_it(
    driver: Any, tmp_path: Path
) -> None:
    browser.open_page(driver, shipped_page(tmp_path))
    assert find(driver, "10.10.1.77") == ["10.10.1.77 is in 10.10.1.64/27.", "10.10.1.64/27"]
    chain = driver.execute_script(
        "const item = document.activeElement; const rect = item.getBoundingClientRect();"
        "const open = []; for (let up = item.parentElement.closest('[role=treeitem]'); up;"
        " up = up.parentElement.closest('[role=treeitem]'))"
        " open.unshift([up.querySelector('.text').textContent, up.getAttribute('aria-expanded')]);"
        "return [open, rect.top >= 0 && rect.bottom <= window.innerHeight]"
    )
    assert chain == [
        [
            [prefix, "true"]
            for prefix in ("10.0.0.0/8", "10.10.0.0/16", "10.10.1.0/24", "10.10.1.0/25")
        ],
        True,
    ]
    assert find(driver, "10.10.1.0/24") == ["10.10.1.0/24 is in the table.", "10.10.1.0/24"]
    assert find(driver, " 10.10.1.200/255.255.255.192 ") == [
        "10.10.1.192/26 is in 10.10.1.128/25.",  # host bits cleared, as --root reads it
        "10.10.1.128/25",
    ]
    assert find(driver, "2001:DB8::1") == ["2001:db8::1 is in 2001:db8::/32.", "2001:db8::/32"]
    assert find(driver, "8.8.8.8")[0] == "No network of the table contains 8.8.8.8."
    assert str(find(driver, "::ffff:10.10.1.77")[0]).startswith("No network of the table contains")
    for bad in (
        "10.10.1",
        "10.10.1.300",
        "10.0.0.0/33",
        "1::2::3",
        "10.0.0.0/255.0.255.0",
        "a/b/c",
    ):
        message, _ = find(driver, bad)
        assert message is not None and message.startswith(bad), bad
    assert find(driver, "")[0] == ""


def closest(nodes: list[Node], query: ipaddress._BaseNetwork) -> str | None:
    containing = [
        node for node in nodes
        if ipaddress.ip_network(node.prefix).version == query.version
        and query.subnet_of(ipaddress.ip_network(node.prefix))
    ]  # fmt: skip
    return max(containing, key=lambda node: node.depth).prefix if containing else None


def test_find_agrees_with_a_brute_force_search(driver: Any, tmp_path: Path) -> None:
    values = [*HARD_VALUES[:14], "10.0.0.0/9", "10.128.0.0/9", "10.1.2.0/24", "2001:db8:0:1::/80"]
    nodes = list(build_tree(values, list(range(len(values)))).nodes())
    browser.open_page(driver, write_page(tmp_path, values, list(range(len(values)))))
    queries = [
        "10.1.2.3", "10.1.2.0/23", "10.1.0.7", "10.200.0.1", "11.0.0.1", "0.0.0.0/0", "::",
        "::ffff:10.1.0.5", "::ffff:10.1.0.6", "::ffff:a01:0/96", "2001:db8:0:1::5", "2001:db9::",
        "192.168.255.255", "192.168.255.254/31", "255.255.255.255", "ffff::/16", "10.0.0.0/8",
    ]  # fmt: skip
    for text in queries:
        expected = closest(nodes, ipaddress.ip_network(text, strict=False))
        message, selected = find(driver, text)
        assert selected == expected, (text, message)
        if expected is None:
            assert message is not None and message.startswith("No network"), text


# -- Free blocks


def free_blocks(values: Sequence[object], prefix: str) -> list[str]:
    """What ``python -m ipam free PREFIX`` lists: the engine's own free blocks."""
    key = network_key(prefix)
    assert isinstance(key, int)
    return [network_text(block) for block in ipam.free.free_blocks(build_hierarchy(values), key)]


@pytest.mark.parametrize("table", ["shipped", "hard"])
def test_free_blocks_of_every_node(driver: Any, tmp_path: Path, table: str) -> None:
    if table == "shipped":
        values, ids = read_shipped()
        page = shipped_page(tmp_path)
    else:
        page = write_page(tmp_path, HARD_VALUES, HARD_IDS)
        values, ids = read_table(tmp_path / "prefixes.db")
    nodes = list(build_tree(values, ids).nodes())
    browser.open_page(driver, page)
    for node in nodes:
        assert find(driver, node.prefix)[1] == node.prefix
        driver.find_element("id", "free-button").click()
        shown = driver.execute_script(
            "return [...document.querySelectorAll('#free-blocks li')].map(li => li.dataset.prefix)"
        )
        assert shown == free_blocks(values, node.prefix)[:1000], node.prefix


# -- Many nodes: only some are in the DOM


def test_big_levels_come_in_batches_and_find_and_end_still_reach_everything(
    driver: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains  # noqa: PLC0415
    from selenium.webdriver.common.keys import Keys  # noqa: PLC0415

    values = [f"10.{index // 256}.{index % 256}.0/24" for index in range(1200)]
    values += ["10.4.100.128/25", "10.4.100.0/26"]
    page = write_page(tmp_path, values, list(range(1, len(values) + 1)))
    browser.open_page(driver, page)
    count = "return document.querySelectorAll('#tree [role=treeitem]').length"
    assert driver.execute_script(count) == 500
    assert (
        driver.find_element("css selector", "#tree > li > button.more").text
        == "Show 500 more of 700"
    )
    driver.execute_script("document.querySelectorAll('#tree > [role=treeitem]')[499].focus()")
    ActionChains(driver).send_keys(Keys.ARROW_DOWN).perform()  # past the last one in the DOM
    assert focused(driver)[1] == values[500]
    assert driver.execute_script(count) == 1000
    browser.open_page(driver, page)
    assert find(driver, "10.4.100.1")[1] == "10.4.100.0/26"
    # The roots up to its parent 10.4.100.0/24, the 1,125th (a batch at least), and its children.
    assert driver.execute_script(count) == 1125 + 2
    assert (
        driver.find_element("css selector", "#tree > li > button.more").text == "Show 75 more of 75"
    )
    driver.execute_script("document.querySelector('[aria-selected=true]').focus()")
    ActionChains(driver).send_keys(Keys.END).perform()
    assert focused(driver)[1] == values[1199]
    assert driver.execute_script(count) == 1202


def test_shares_that_are_not_exactly_all_or_nothing_never_say_so(
    driver: Any, tmp_path: Path
) -> None:
    """(2**128 - 1) / 2**128 is 1.0 as a float: the page said 100% for a ::/0 with one address
    free. Ties round half to even, as the tree does (6.25% is 6.2%, 18.75% is 18.8%)."""
    everything, one = ipaddress.IPv6Network("::/0"), ipaddress.IPv6Network("::/128")
    values: list[object] = ["::/0", *map(str, everything.address_exclude(one))]
    values += ["10.0.0.0/8", "10.0.0.0/12", "11.0.0.0/8", "11.0.0.0/11", "11.32.0.0/12"]
    values += ["12.0.0.0/8", "12.0.0.0/32"]
    page = write_page(tmp_path, values, list(range(1, len(values) + 1)))
    rows = opened_rows(driver, page)
    assert rows == expected_rows(values, list(range(1, len(values) + 1)))
    shares = {row[1]: row[4] for row in rows}
    assert (shares["::/0"], shares["10.0.0.0/8"], shares["11.0.0.0/8"]) == (
        ">99.9%",
        "6.2%",
        "18.8%",
    )
    assert shares["12.0.0.0/8"] == "<0.1%"
