"""prefixes.html in a real browser (headless Chromium): the tree equals ``tree --json``, the
WAI-ARIA keys work, find selects the right node, free blocks are exact, database text is never
markup, the tree keeps only the rows in view as elements whatever the table, and the page asks
the network for nothing. Skipped, saying why, without Chromium."""

from __future__ import annotations

import ipaddress
import json
import os
import random
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

# What a test reads of a row: level, prefix, ids, children, utilization, aria-expanded.
ROW_FIELDS_JS = """
const rowFields = (item) => [
  Number(item.getAttribute('aria-level')),
  item.querySelector('.text').textContent,
  item.querySelector('.ids').textContent,
  item.querySelector('.count').textContent,
  item.querySelector('.percent').textContent,
  item.getAttribute('aria-expanded'),
];
"""
ROWS_JS = ROW_FIELDS_JS + "return [...document.querySelectorAll('[role=treeitem]')].map(rowFields);"
# The whole tree, row by row, as a keyboard user reaches it: Home, then Down to the end, opening
# every closed node on the way (Right) when asked to. Only the rows in view are elements, so this
# is the one way to read all of them. Each row: ROWS_JS's fields, then free block or not,
# aria-posinset and aria-setsize.
WALK_JS = (
    ROW_FIELDS_JS
    + """
const openAll = arguments[0];
const press = (key) => document.activeElement.dispatchEvent(
  new KeyboardEvent('keydown', {key, bubbles: true, cancelable: true}));
const start = document.querySelector('#tree [role=treeitem][tabindex="0"]');
if (!start) return [];
start.focus();
press('Home');
const rows = [];
for (;;) {
  const item = document.activeElement;
  if (openAll && item.getAttribute('aria-expanded') === 'false') press('ArrowRight');
  rows.push([
    ...rowFields(item),
    item.classList.contains('free-row'),
    Number(item.getAttribute('aria-posinset')),
    Number(item.getAttribute('aria-setsize')),
  ]);
  const id = item.id;
  press('ArrowDown');
  if (document.activeElement.id === id) return rows;
}
"""
)
# Every node opened, by the keyboard as WALK_JS does, then Home: the top of the whole tree in view.
OPEN_ALL_JS = (
    "(function () {" + WALK_JS + "}).call(null, true);"
    "document.activeElement.dispatchEvent(new KeyboardEvent('keydown', "
    "{key: 'Home', bubbles: true, cancelable: true}));"
)
TREEITEMS_JS = "return document.querySelectorAll('#tree [role=treeitem]').length"
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


def walk(driver: Any, open_all: bool = True) -> list[list[Any]]:
    """Every row from the first to the last by the keyboard (see WALK_JS), every node opened."""
    rows: list[list[Any]] = driver.execute_script(WALK_JS, open_all)
    if open_all:
        assert_positions([(row[0], row[7], row[8]) for row in rows])
    return rows


def assert_positions(rows: Sequence[tuple[int, int, int]]) -> None:
    """aria-posinset counts each row among its siblings and aria-setsize is how many there are:
    siblings are the rows of one level between their parent and the parent's next sibling (the
    whole tree is open, so every level is read whole)."""
    counts: list[list[int]] = []  # per level of the current path: [rows so far, set size]
    for level, position, size in rows:
        for done, total in counts[level:]:
            assert done == total, (level, position, size)
        del counts[level:]
        if len(counts) == level:
            counts[-1][0] += 1
            assert counts[-1][1] == size
        else:
            counts.append([1, size])
        assert (len(counts), counts[-1][0]) == (level, position)
    for done, total in counts:
        assert done == total


def opened_rows(driver: Any, page: Path) -> list[list[object]]:
    driver.get_log("performance")  # drained: from here on, the log is this page's
    browser.open_page(driver, page)
    rows = walk(driver)
    for row in rows:
        assert row[5] in (None, "true"), row  # every node with children is open now
        row[5] = "false" if row[5] else None
        assert row[6] is False  # no free blocks unless asked for
    return [row[:6] for row in rows]


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


def test_a_browser_without_native_base64_decoding_reads_the_same_tree(
    driver: Any, tmp_path: Path
) -> None:
    """The one-byte columns are base64: browsers before Uint8Array.fromBase64 decode them
    through atob."""
    page = write_page(tmp_path, HARD_VALUES, HARD_IDS)
    values, ids = read_table(tmp_path / "prefixes.db")
    older = tmp_path / "older.html"
    data_element = b'<script type="application/json"'
    html = page.read_bytes()
    assert html.count(data_element) == 1
    older.write_bytes(
        html.replace(data_element, b"<script>delete Uint8Array.fromBase64;</script>" + data_element)
    )
    assert opened_rows(driver, older) == expected_rows(values, ids)
    assert driver.execute_script("return Uint8Array.fromBase64") is None


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
    for _ in range(3):  # Find, the free-space switch, then the tree's one tab stop
        ActionChains(driver).send_keys(Keys.TAB).perform()
    assert focused(driver) == ["treeitem", roots[0], True, "false"]  # Tab selects it too

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
        driver.execute_script(  # its children left the tree
            "return document.querySelectorAll('#tree [aria-level]:not([aria-level=\"1\"])').length"
        )
        == 0
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
    chain = driver.execute_script(  # the rows before it of each lower level: its ancestors
        "const item = document.activeElement; const rect = item.getBoundingClientRect();"
        "const list = document.getElementById('tree-scroll').getBoundingClientRect();"
        "const open = []; let level = Number(item.getAttribute('aria-level'));"
        "for (let up = item.previousElementSibling; up; up = up.previousElementSibling)"
        " if (Number(up.getAttribute('aria-level')) < level) { level--;"
        "  const text = up.querySelector('.text').textContent;"
        "  open.unshift([text, up.getAttribute('aria-expanded')]); }"
        "const bottom = Math.min(list.bottom, window.innerHeight);"
        "return [open, rect.top >= list.top && rect.bottom <= bottom]"
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


def table_page(tmp_path: Path, table: str) -> tuple[Path, list[object], list[object]]:
    """The page of the shipped database or of the hard cases, and that table's values and ids."""
    if table == "shipped":
        values, ids = read_shipped()
        return shipped_page(tmp_path), values, ids
    page = write_page(tmp_path, HARD_VALUES, HARD_IDS)
    values, ids = read_table(tmp_path / "prefixes.db")
    return page, values, ids


@pytest.mark.parametrize("table", ["shipped", "hard"])
def test_free_blocks_of_every_node(driver: Any, tmp_path: Path, table: str) -> None:
    page, values, ids = table_page(tmp_path, table)
    nodes = list(build_tree(values, ids).nodes())
    browser.open_page(driver, page)
    for node in nodes:
        assert find(driver, node.prefix)[1] == node.prefix
        driver.find_element("id", "free-button").click()
        shown = driver.execute_script(
            "return [...document.querySelectorAll('#free-blocks li')].map(li => li.dataset.prefix)"
        )
        assert shown == free_blocks(values, node.prefix)[:1000], node.prefix


# -- Many nodes: only the rows in view are elements


def keys(driver: Any, *pressed: str) -> list[object]:
    from selenium.webdriver.common.action_chains import ActionChains  # noqa: PLC0415

    ActionChains(driver).send_keys(*pressed).perform()
    return focused(driver)


def position(driver: Any) -> list[object]:
    """The focused row's text, aria-level, aria-posinset and aria-setsize."""
    return driver.execute_script(
        "const item = document.activeElement; return [item.querySelector('.text').textContent,"
        " ...['level', 'posinset', 'setsize']"
        ".map(name => Number(item.getAttribute('aria-' + name)))]"
    )


SCROLL_JS = """
const [fraction, done] = arguments;
const list = document.getElementById('tree-scroll');
list.scrollTop = fraction * (list.scrollHeight - list.clientHeight);
requestAnimationFrame(() => setTimeout(done));
"""
IN_VIEW_JS = """
const list = document.getElementById('tree-scroll').getBoundingClientRect();
const header = document.querySelector('#tree-scroll .columns').getBoundingClientRect();
return [...document.querySelectorAll('#tree [role=treeitem]')]
  .map(item => [item.getBoundingClientRect(), item])
  .filter(([box]) => box.top >= header.bottom - 1 && box.bottom <= list.bottom + 1)
  .sort(([a], [b]) => a.top - b.top)
  .map(([, item]) => [item.querySelector('.text').textContent,
                      Number(item.getAttribute('aria-posinset'))]);
"""


def test_a_level_of_1200_is_a_window_of_rows_that_say_where_they_are(
    driver: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.keys import Keys  # noqa: PLC0415

    values = [f"10.{index // 256}.{index % 256}.0/24" for index in range(1200)]
    values += ["10.4.100.128/25", "10.4.100.0/26"]
    page = write_page(tmp_path, values, list(range(1, len(values) + 1)))
    browser.open_page(driver, page)
    assert driver.execute_script(TREEITEMS_JS) < 100  # the rows in view and a margin
    roots = driver.execute_script(ROWS_JS + "")
    assert [row[1] for row in roots] == values[: len(roots)]
    assert driver.execute_script(
        "return [...document.querySelectorAll('#tree [role=treeitem]')]"
        ".map(item => [item.getAttribute('aria-posinset'), item.getAttribute('aria-setsize')])"
    ) == [[str(index), "1200"] for index in range(1, len(roots) + 1)]

    assert find(driver, "10.4.100.1")[1] == "10.4.100.0/26"  # the 1,125th root's first child
    assert position(driver) == ["10.4.100.0/26", 2, 1, 2]
    assert keys(driver, Keys.ARROW_LEFT)[1] == "10.4.100.0/24"
    assert position(driver) == ["10.4.100.0/24", 1, 1125, 1200]
    assert driver.execute_script(TREEITEMS_JS) < 100
    assert keys(driver, Keys.END)[1] == values[1199]
    assert position(driver) == [values[1199], 1, 1200, 1200]
    assert keys(driver, Keys.PAGE_UP)[1] not in (values[1199], values[1198])  # a view's worth up
    assert keys(driver, Keys.PAGE_DOWN)[1] == values[1199]
    assert keys(driver, Keys.HOME)[1] == values[0]
    assert keys(driver, Keys.PAGE_DOWN)[1] not in (values[0], values[1])
    assert driver.execute_script(TREEITEMS_JS) < 100
    rows = walk(driver, open_all=False)  # every row reached, every one where the tree has it
    assert [row[1] for row in rows] == [
        *values[:1124],
        "10.4.100.0/24",
        "10.4.100.0/26",
        "10.4.100.128/25",
        *values[1125:1200],
    ]

    # The scrollbar: the rows in view are consecutive rows, the last one at the bottom.
    for fraction, last in ((0.5, False), (1, True)):
        driver.execute_async_script(SCROLL_JS, fraction)
        shown = driver.execute_script(IN_VIEW_JS)
        positions = [row[1] for row in shown]
        assert len(shown) > 5 and positions == list(range(positions[0], positions[0] + len(shown)))
        assert (positions[-1] == 1200) is last
        assert driver.execute_script(TREEITEMS_JS) < 100


def test_a_node_of_3000_children_opens_and_closes_without_3000_rows(
    driver: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.keys import Keys  # noqa: PLC0415

    children = [f"10.{index // 256}.{index % 256}.0/24" for index in range(3000)]
    values = ["9.0.0.0/8", "10.0.0.0/8", *children, "11.0.0.0/8"]
    browser.open_page(driver, write_page(tmp_path, values, list(range(1, len(values) + 1))))
    driver.execute_script("document.querySelector('#tree [tabindex=\"0\"]').focus()")
    assert keys(driver, Keys.ARROW_DOWN) == ["treeitem", "10.0.0.0/8", True, "false"]
    assert keys(driver, Keys.ARROW_RIGHT) == ["treeitem", "10.0.0.0/8", True, "true"]
    assert driver.execute_script(TREEITEMS_JS) < 100
    assert keys(driver, Keys.ARROW_DOWN)[1] == children[0]  # off the open node, into it
    assert position(driver) == [children[0], 2, 1, 3000]
    assert keys(driver, Keys.ARROW_UP)[1] == "10.0.0.0/8"  # onto it
    assert keys(driver, Keys.END)[1] == "11.0.0.0/8"
    assert keys(driver, Keys.ARROW_UP)[1] == children[-1]  # up past its 3,000 children
    assert position(driver) == [children[-1], 2, 3000, 3000]
    assert driver.execute_script(TREEITEMS_JS) < 100
    assert keys(driver, Keys.ARROW_LEFT)[1] == "10.0.0.0/8"
    assert keys(driver, Keys.ARROW_LEFT) == ["treeitem", "10.0.0.0/8", True, "false"]  # closed
    assert [row[1] for row in walk(driver, open_all=False)] == [
        "9.0.0.0/8",
        "10.0.0.0/8",
        "11.0.0.0/8",
    ]
    assert driver.execute_script(TREEITEMS_JS) == 3


# -- One tab stop, selection follows focus, type-ahead, one live region

TAB_STOPS_JS = """
return [...document.querySelectorAll('#tree [tabindex="0"]')]
  .map(item => [item.querySelector('.text').textContent, item.getAttribute('aria-selected')]);
"""


def test_the_tree_is_one_tab_stop_on_the_selected_row(driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains  # noqa: PLC0415
    from selenium.webdriver.common.keys import Keys  # noqa: PLC0415

    browser.open_page(driver, shipped_page(tmp_path))
    assert driver.execute_script(TAB_STOPS_JS) == [["10.0.0.0/8", "false"]]  # fresh: the first
    driver.find_element("css selector", "#n17 > .row").click()  # 192.168.0.0/16
    assert driver.execute_script(TAB_STOPS_JS) == [["192.168.0.0/16", "true"]]
    find(driver, "10.10.1.77")
    assert driver.execute_script(TAB_STOPS_JS) == [["10.10.1.64/27", "true"]]
    driver.execute_script("document.getElementById('free-switch').focus()")  # just before it
    assert keys(driver, Keys.TAB)[1] == "10.10.1.64/27"  # straight to the selected row
    keys(driver, Keys.TAB)  # and out of the tree with the next Tab
    assert driver.execute_script("return document.activeElement.closest('#tree')") is None
    driver.execute_script("document.getElementById('free-switch').focus()")
    ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
    assert driver.execute_script("return document.activeElement.closest('#tree')") is None


def test_tab_into_a_fresh_tree_selects_the_node_it_focuses(driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.keys import Keys  # noqa: PLC0415

    browser.open_page(driver, shipped_page(tmp_path))
    assert not driver.find_element("id", "details").is_displayed()
    driver.find_element("id", "free-switch").click()
    driver.find_element("id", "free-switch").click()  # on and off again: no free rows
    assert keys(driver, Keys.TAB) == ["treeitem", "10.0.0.0/8", True, "false"]
    assert driver.find_element("id", "details-title").text == "10.0.0.0/8"


def test_typed_characters_move_to_the_next_node_starting_with_them(
    driver: Any, tmp_path: Path
) -> None:
    import time  # noqa: PLC0415

    browser.open_page(driver, shipped_page(tmp_path))
    driver.find_element("css selector", "#n0 > .row").click()  # 10.0.0.0/8, opened
    assert keys(driver, "1")[1] == "10.10.0.0/16"  # the next one starting with "1"
    assert keys(driver, "9")[1] == "192.168.0.0/16"  # "19"
    time.sleep(1.2)  # a pause: typing starts again (not a timing assertion: any pause > 1 s)
    assert keys(driver, "2")[1] == "203.0.113.0/24"
    assert keys(driver, "001")[1] == "2001:db8::/32"  # "2001", typed at once
    time.sleep(1.2)
    assert keys(driver, "1")[1] == "10.0.0.0/8"  # past the last row: from the top again
    assert keys(driver, "x")[1] == "10.0.0.0/8"  # nothing starts with "1x": it stays


def test_only_finds_result_line_is_a_live_region(driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.keys import Keys  # noqa: PLC0415

    live = (
        "return [...document.querySelectorAll('[aria-live], [role=status], [role=alert],"
        " [role=log], [role=marquee], [role=timer], output')].map(element => element.id)"
    )
    browser.open_page(driver, shipped_page(tmp_path))
    assert driver.execute_script(live) == ["found"]
    assert find(driver, "10.10.1.77")[0] == "10.10.1.77 is in 10.10.1.64/27."
    keys(driver, Keys.ARROW_UP, Keys.ARROW_UP)
    driver.find_element("id", "free-button").click()
    assert driver.execute_script(live) == ["found"]
    assert driver.find_element("id", "found").text == "10.10.1.77 is in 10.10.1.64/27."


# -- Free space among the children


def rows_with_free(values: Sequence[object], ids: Sequence[object]) -> list[list[object]]:
    """The tree with every node open and its free blocks (``ipam free``) among its children, in
    address order: [level, prefix, free block or not]."""
    nodes = list(build_tree(values, ids).nodes())
    kids: list[list[int]] = [[] for _ in nodes]
    roots: list[int] = []
    path: list[int] = []
    for index, node in enumerate(nodes):
        del path[node.depth :]
        (kids[path[-1]] if path else roots).append(index)
        path.append(index)
    rows: list[list[object]] = []

    def address(prefix: str) -> int:
        return int(ipaddress.ip_network(prefix).network_address)

    def emit(index: int) -> None:
        node = nodes[index]
        rows.append([node.depth + 1, node.prefix, False])
        if not kids[index]:
            return
        entries: list[tuple[int, object]] = [(address(nodes[k].prefix), k) for k in kids[index]]
        entries += [(address(block), block) for block in free_blocks(values, node.prefix)]
        for _, entry in sorted(entries, key=lambda pair: pair[0]):
            if isinstance(entry, int):
                emit(entry)
            else:
                rows.append([node.depth + 2, entry, True])

    for root in roots:
        emit(root)
    return rows


@pytest.mark.parametrize("table", ["shipped", "hard"])
def test_free_space_rows_are_the_free_blocks_among_the_children(
    driver: Any, tmp_path: Path, table: str
) -> None:
    page, values, ids = table_page(tmp_path, table)
    browser.open_page(driver, page)
    driver.find_element("id", "free-switch").click()
    rows = walk(driver)
    assert [[row[0], row[1], row[6]] for row in rows] == rows_with_free(values, ids)
    assert all(row[3] == "free block" for row in rows if row[6])
    driver.find_element("id", "free-switch").click()  # off: the rows are the tree again
    assert [row[:2] for row in walk(driver)] == [row[:2] for row in expected_rows(values, ids)]


def test_a_node_with_many_free_blocks_stays_a_window(driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.keys import Keys  # noqa: PLC0415

    # Every other /24 of 10.0.0.0/12: 2,048 children and 2,048 free blocks between them.
    children = [f"10.{index // 256}.{index % 256}.0/24" for index in range(0, 4096, 2)]
    values = ["10.0.0.0/12", *children]
    browser.open_page(driver, write_page(tmp_path, values, list(range(1, len(values) + 1))))
    driver.find_element("id", "free-switch").click()
    assert find(driver, "10.15.254.1")[1] == children[-1]
    assert position(driver) == [children[-1], 2, 4095, 4096]
    assert keys(driver, Keys.ARROW_DOWN)[1] == "10.15.255.0/24"  # the last free block
    assert position(driver) == ["10.15.255.0/24", 2, 4096, 4096]
    assert driver.find_element("id", "details-title").text == "10.15.255.0/24"
    assert driver.execute_script(TREEITEMS_JS) < 100


# The page's free-block code alone (page.js, from split to the end of run6), on gaps
# [low, high) given as decimal text: what the generator makes, the count from the bits alone
# (IPv4 in Numbers, IPv6 in four 32-bit words) and every block found by walking the bits.
COUNT_GAPS_JS = """
const words = (value) => Uint32Array.of(
  ...[96n, 64n, 32n, 0n].map((shift) => Number((value >> shift) & 0xffffffffn)));
const text = (blocks) => blocks.map(([start, length]) => start.toString(16) + '/' + length);
return arguments[0].map(([bits, low, high]) => {
  const [start, stop] = [BigInt(low), BigInt(high)];
  const made = [...split(start, stop, BigInt(bits))];
  const count = bits === 32 ? blockCount4(Number(start), Number(stop))
    : blockCount6(words(start), words(stop - 1n));
  return [count, text(made), text(made.map((_, k) => blockAt(start, stop, bits, k)))];
});
"""


def counting_js() -> str:
    """page.js from ``function* split`` to the end of ``run6``: the code that counts and
    finds free blocks, which needs nothing else of the page."""
    source = (REPO_ROOT / "ipam" / "page.js").read_text(encoding="utf-8")
    start = source.index("  function* split(")
    end = source.index("\n  }\n", source.index("  function run6(")) + len("\n  }\n")
    return source[start:end]


def gap_corpus(seed: int) -> list[tuple[int, int, int]]:
    """(bits, low, high): the whole space and its ends, single addresses, an aligned block of
    every size with an address more or less at either end, spans across the 32-bit words'
    boundaries, and random spans of every width."""
    rng = random.Random(seed)
    gaps: list[tuple[int, int, int]] = []
    for bits in (32, 128):
        top = 1 << bits
        gaps += [(bits, 0, top), (bits, 0, 1), (bits, top - 1, top), (bits, 0, top - 1)]
        gaps += [(bits, 1, top), (bits, 1, top - 1), (bits, 5, 6)]
        for size in range(bits + 1):
            start = rng.getrandbits(bits - size) << size if size < bits else 0
            stop = start + (1 << size)
            gaps += [(bits, start, stop), (bits, start + 1, stop), (bits, start, stop - 1)]
        for boundary in range(32, bits, 32):
            gaps += [(bits, (1 << boundary) - 1, (1 << boundary) + 1)]
            gaps += [(bits, (1 << boundary) - 3, top), (bits, 0, (1 << boundary) + 3)]
        for _ in range(400):
            low = rng.getrandbits(bits)
            gaps.append((bits, low, min(top, low + 1 + rng.getrandbits(rng.randint(1, bits)))))
    return [(bits, low, high) for bits, low, high in gaps if low < high]


def test_free_blocks_counted_from_the_bits_are_the_generators(driver: Any) -> None:
    gaps = gap_corpus(20261207)
    driver.get("about:blank")
    said = driver.execute_script(
        counting_js() + COUNT_GAPS_JS, [[bits, str(low), str(high)] for bits, low, high in gaps]
    )
    for (bits, low, high), (count, made, found) in zip(gaps, said):
        version = ipaddress.IPv4Address if bits == 32 else ipaddress.IPv6Address
        blocks = ipaddress.summarize_address_range(version(low), version(high - 1))
        expected = [f"{int(block.network_address):x}/{block.prefixlen}" for block in blocks]
        assert (count, made, found) == (len(expected), expected, expected), (bits, low, high)


def test_a_node_of_scattered_ipv6_children_shows_ipam_free_among_them(
    driver: Any, tmp_path: Path
) -> None:
    """::/0 with 3,000 networks /64 to /128 all over the space (their offsets past 2^53 and
    below, one at each end): its entries are its children and what ``ipam free`` lists for it,
    in address order, whether free space is switched on with it open or it is opened with free
    space on; only a window of them is in the DOM."""
    from selenium.webdriver.common.keys import Keys  # noqa: PLC0415

    rng = random.Random(20261207)
    values = {"::/0", "::/128", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120", "2001:db8::/32"}
    values |= {"2001:db8::1/128", "2001:db8:1::/48", "1::/64", "1:0:0:1::/64"}
    while len(values) < 3000:
        length = rng.randint(64, 128)
        network = ipaddress.IPv6Network((rng.getrandbits(length) << (128 - length), length))
        values.add(str(network))
    ordered = sorted(values)
    browser.open_page(driver, write_page(tmp_path, ordered, list(range(1, len(ordered) + 1))))
    nodes = build_tree(ordered, list(range(1, len(ordered) + 1))).nodes()
    kids = [node.prefix for node in nodes if node.depth == 1]
    free = free_blocks(ordered, "::/0")
    entries = [
        prefix
        for _, prefix in sorted(
            (int(ipaddress.ip_network(prefix).network_address), prefix) for prefix in kids + free
        )
    ]
    assert len(free) > 50 * len(kids)  # about 84 free blocks a gap

    def check() -> None:  # the first rows, some in the middle (by find), the last ones
        assert find(driver, "::/0")[1] == "::/0"
        assert keys(driver, Keys.ARROW_DOWN)[1] == entries[0]
        assert position(driver) == [entries[0], 2, 1, len(entries)]
        assert [keys(driver, Keys.ARROW_DOWN)[1] for _ in range(3)] == entries[1:4]
        for kid in kids[len(kids) // 3], kids[len(kids) // 2], kids[-700]:
            at = entries.index(kid)
            assert find(driver, kid)[1] == kid
            assert position(driver) == [kid, 2, at + 1, len(entries)]
            assert keys(driver, Keys.ARROW_DOWN)[1] == entries[at + 1]
            assert driver.find_element("id", "details-title").text == entries[at + 1]
            assert keys(driver, Keys.ARROW_UP)[1] == kid
            assert keys(driver, Keys.ARROW_UP)[1] == entries[at - 1]
        assert keys(driver, Keys.END)[1] == entries[-1]
        assert position(driver) == [entries[-1], 2, len(entries), len(entries)]
        assert [keys(driver, Keys.ARROW_UP)[1] for _ in range(3)] == entries[-4:-1][::-1]
        assert driver.execute_script(TREEITEMS_JS) < 100

    assert find(driver, "::/0")[1] == "::/0"
    keys(driver, Keys.ARROW_RIGHT)  # opened, then free space switched on
    driver.find_element("id", "free-switch").click()
    check()
    assert find(driver, "::/0")[1] == "::/0"
    keys(driver, Keys.ARROW_LEFT)  # closed, then opened with free space on
    keys(driver, Keys.ARROW_RIGHT)
    check()
    driver.find_element("id", "free-switch").click()  # off: the children alone
    assert find(driver, kids[-1])[1] == kids[-1]
    assert position(driver) == [kids[-1], 2, len(kids), len(kids)]
    assert find(driver, "::/0")[1] == "::/0"
    driver.find_element("id", "free-button").click()  # its details: counted, the first listed
    said = driver.find_element("id", "free-more").text
    assert said == f"{len(free)} free blocks, the first 1000 shown"
    shown = driver.execute_script(
        "return [...document.querySelectorAll('#free-blocks li')].map(li => li.dataset.prefix)"
    )
    assert shown == free[:1000]


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
