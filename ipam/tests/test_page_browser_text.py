"""prefixes.html read by people and by machines it cannot trust: find reads its input exactly as
the command line does, stored text never reorders the page's own, nothing widens the page, a
phone shows the prefix and its use, and axe-core finds no WCAG 2.1 A or AA violation in either
colour scheme. Skipped, saying why, without Chromium (and, for axe-core, without its file)."""

from __future__ import annotations

import ipaddress
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipam.networks import LENGTH_MASK, network_key, network_text
from ipam.tests import browser
from ipam.tests.test_page_browser import (
    OPEN_ALL_JS,
    SKIP,
    table_page,
    write_page,
)

if SKIP is not None and os.environ.get("IPAM_REQUIRE_BROWSER") == "1":  # CI: no skipping
    pytest.fail(f"IPAM_REQUIRE_BROWSER=1 but {SKIP}", pytrace=False)
pytestmark = pytest.mark.skipif(SKIP is not None, reason=f"no browser: {SKIP}")


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with browser.chromium() as chromium:
        yield chromium


# -- Find reads its input as `tree --contains` does: Python's ipaddress, through network_key

# Every input, one after the other, through the find form; what the page said of each, and
# what the box held (a text input drops line breaks: no one can type them into it).
FIND_ALL_JS = """
const box = document.getElementById('query'), found = document.getElementById('found');
return arguments[0].map(text => {
  box.value = text;
  document.getElementById('find').requestSubmit();
  return [box.value, found.textContent, found.classList.contains('missing')];
});
"""
# A table of the two whole address spaces: every network the parser accepts is found in one.
EVERYTHING = ["0.0.0.0/0", "::/0"]


def expected_find(text: str) -> tuple[str | None, bool]:
    """What the page must say of an input: the network the command line reads (as find writes
    it: an address alone when no length was given), or (None, True) when it refuses it; nothing
    at all when there is nothing but white space (Python's, which is not JavaScript's)."""
    if not text.strip():
        return "", False
    key = network_key(text)
    if isinstance(key, str):
        return None, True
    network = network_text(key)
    root = EVERYTHING[key >> 136]
    if "/" not in text:
        return f"{network.rsplit('/', 1)[0]} is in {root}.", False
    return (f"{root} is in the table." if network == root else f"{network} is in {root}."), False


def assert_find_reads_as_python(driver: Any, inputs: list[str]) -> None:
    said = driver.execute_script(FIND_ALL_JS, inputs)
    for typed, (text, message, missing) in zip(inputs, said):
        assert text == typed.replace("\r", "").replace("\n", "")
        expected, refused = expected_find(text)
        assert missing is refused, (text, message)
        if refused:
            assert message.startswith(text.strip() + ": "), (text, message)
        else:
            assert message == expected, text


# Each piece is mostly one of the valid spellings, now and then one of the near misses, so that
# about half the inputs are accepted and every rule is met on both of its sides.
OCTETS = (["0", "1", "7", "10", "192", "255"],
          ["00", "01", "010", "077", "256", "300", "1000", "", "a", "+1", "-1", " 1", "\u0663",
           "\uff11", "0x1"])  # fmt: skip
HEXTETS = (["0", "1", "db8", "2001", "ffff", "FFFF", "0000", "0db8"],
           ["00000", "12345", "g", "", "-1", "\u0663", "0x1", " 1"])  # fmt: skip
LENGTHS = (["0", "8", "24", "32", "64", "127", "128", "255.255.255.0", "0.0.0.255", "0.0.0.0",
            "255.255.255.255"],
           ["33", "129", "024", "0000000064", "", "+8", "-1", " 8", "\u0663", "255.0.255.0",
            "255.255.255.000", "255.255.254.0", "0.0.1.255", "ffff::", "1.2.3"])  # fmt: skip
SPACES = ([""] * 8 + [" ", "\t", "\n", "\x0b", "\x1c", "\x1f", "\x85", "\xa0", "\u2003",
          "\u2028", "\u3000"],
          ["\ufeff", "\u200b", "\x00", "\u202e"])  # fmt: skip


class Picker:
    """Random choices from a seeded Random or from hypothesis (which then shrinks them)."""

    def __init__(self, source: random.Random | st.DataObject) -> None:
        self.source = source

    def choice(self, options: list[Any]) -> Any:
        if isinstance(self.source, random.Random):
            return self.source.choice(options)
        return self.source.draw(st.sampled_from(options))

    def piece(self, pieces: tuple[list[str], list[str]]) -> str:
        good, bad = pieces
        return str(self.choice(bad if self.choice([False] * 19 + [True]) else good))


def ipv4_like(pick: Picker) -> str:
    count = pick.choice([3, 4, 4, 4, 4, 4, 4, 4, 5])
    return ".".join(pick.piece(OCTETS) for _ in range(count))


def ipv6_like(pick: Picker) -> str:
    dotted = pick.choice([False, False, True])
    groups = [pick.piece(HEXTETS) for _ in range(pick.choice([8, 8, 8, 8, 7, 9]) - 2 * dotted)]
    if dotted:
        groups.append(ipv4_like(pick))
    if pick.choice([True, True, False]):  # one "::" for a run of groups, now and then two
        for _ in range(pick.choice([1, 1, 1, 1, 2])):
            start = pick.choice(list(range(len(groups) + 1)))
            stop = pick.choice(list(range(start, len(groups) + 1)))
            groups = [*groups[:start], "", *groups[stop:]]
    text = ":".join(groups)
    if text.startswith(":") or text == "":  # a "::" at either end takes both colons
        text = ":" + text
    if text.endswith(":"):
        text += ":"
    return text


def query_like(pick: Picker) -> str:
    """An address-like input: near the valid forms, so both sides' every rule is exercised."""
    text = ipv4_like(pick) if pick.choice([True, False]) else ipv6_like(pick)
    if pick.choice([False] * 15 + [True]):
        text += "%" + pick.choice(["eth0", "", "1"])
    for _ in range(pick.choice([0, 0, 1, 1, 1, 1, 1, 1, 1, 2])):
        text += "/" + pick.piece(LENGTHS)
    return pick.piece(SPACES) + text + pick.piece(SPACES)


# What the current and earlier parsers got wrong, and the forms people type.
KNOWN_INPUTS = [
    "010.010.001.077", "1.2.3.4::", "10.10.1.0/0.0.0.255", "10.10.1.0/255.255.255.0",
    "10.10.1.0/255.0.255.0", "10.0.0.0/024", "10.0.0.0/", "/24", "10.0.0.1", "::", "::/0",
    "1::", "::1", ":1::", "1:::", "1::2::3", "::ffff:1.2.3.4", "::1.2.3.4/120", "1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:1.2.3.4",
    "1:2:3:4:5:6:7:1.2.3.4", "fe80::1%eth0", "fe80::1%eth0/64", "2001:DB8::/32", " 10.0.0.1 ",
    "\x1c10.0.0.1", "\ufeff10.0.0.1", "\u202e10.0.0.1", "10.0.0.1\x85", "a/b/c", "",
    "10.0.0.0/8/8", "10.0.0.256", "0.0.0.0/0.0.0.0", "1.2.3.4/255.255.255.255",
    "1.2.3.4/0.0.0.0",
]  # fmt: skip


def test_find_reads_known_inputs_as_the_command_line_does(driver: Any, tmp_path: Path) -> None:
    browser.open_page(driver, write_page(tmp_path, EVERYTHING, [1, 2]))
    assert_find_reads_as_python(driver, KNOWN_INPUTS)


def test_find_reads_a_generated_corpus_as_the_command_line_does(
    driver: Any, tmp_path: Path
) -> None:
    corpus = [query_like(Picker(random.Random(seed))) for seed in range(4000)]
    accepted = sum(not isinstance(network_key(text), str) for text in corpus)
    assert 1000 < accepted < 3000  # the corpus tries both sides of the rules, not only one
    browser.open_page(driver, write_page(tmp_path, EVERYTHING, [1, 2]))
    assert_find_reads_as_python(driver, corpus)


@settings(max_examples=25, deadline=None)
@given(data=st.data(), noise=st.lists(st.text(max_size=12), max_size=10))
def test_find_reads_hypothesis_inputs_as_the_command_line_does(
    driver: Any, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, noise: list[str]
) -> None:
    page = tmp_path_factory.getbasetemp() / "everything" / "prefixes.html"
    if not page.exists():
        page.parent.mkdir()
        write_page(page.parent, EVERYTHING, [1, 2])
    browser.open_page(driver, page)
    assert_find_reads_as_python(driver, [query_like(Picker(data)) for _ in range(40)] + noise)


def test_the_parsed_network_is_the_one_python_reads() -> None:
    """The expectations above, checked against ipaddress itself (not only network_key)."""
    assert expected_find("010.010.001.077") == (None, True)
    assert expected_find("10.10.1.0/0.0.0.255") == ("10.10.1.0/24 is in 0.0.0.0/0.", False)
    assert expected_find("::/0") == ("::/0 is in the table.", False)
    network = ipaddress.ip_network(" 10.10.1.77/255.255.255.128 ".strip(), strict=False)
    key = network_key(" 10.10.1.77/255.255.255.128 ")
    assert isinstance(key, int) and key & LENGTH_MASK == network.prefixlen == 25


# -- axe-core: no WCAG 2.1 A or AA violation, in either colour scheme, in any state

AXE_SKIP = browser.axe_skip_reason()
if AXE_SKIP is not None and os.environ.get("IPAM_REQUIRE_BROWSER") == "1":  # CI: no skipping
    pytest.fail(f"IPAM_REQUIRE_BROWSER=1 but {AXE_SKIP}", pytrace=False)
FIND_JS = """
document.getElementById('query').value = arguments[0];
document.getElementById('find').requestSubmit();
return document.getElementById('found').textContent;
"""


@pytest.mark.skipif(AXE_SKIP is not None, reason=f"no axe-core: {AXE_SKIP}")
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("table", ["shipped", "hard"])
def test_axe_core_finds_no_wcag_21_aa_violation_in_any_state(
    driver: Any, tmp_path: Path, scheme: str, table: str
) -> None:
    page = table_page(tmp_path, table)[0]
    browser.color_scheme(driver, scheme)
    try:
        browser.open_page(driver, page)
        assert driver.execute_script(
            "return matchMedia('(prefers-color-scheme: dark)').matches"
        ) == (scheme == "dark")
        found: dict[str, list[list[object]]] = {"initial": browser.axe_violations(driver)}
        driver.execute_script(OPEN_ALL_JS)
        found["all expanded"] = browser.axe_violations(driver)
        assert " is in " in driver.execute_script(FIND_JS, "10.0.0.1")
        found["after a find"] = browser.axe_violations(driver)
        driver.find_element("id", "free-button").click()
        assert driver.find_elements("css selector", "#free-blocks li")
        found["free blocks listed"] = browser.axe_violations(driver)
        assert driver.execute_script(FIND_JS, "10.0.0.0/33").startswith("10.0.0.0/33: ")
        found["after a failed find"] = browser.axe_violations(driver)
        if table == "shipped":  # the other table holds 0.0.0.0/0 and ::/0: it has them all
            assert driver.execute_script(FIND_JS, "8.8.8.8").startswith("No network")
            found["after a find that finds nothing"] = browser.axe_violations(driver)
    finally:
        browser.color_scheme(driver, "light")
    assert found == {state: [] for state in found}


# -- Stored text is isolated: it never reorders the page's own words (bidi)

# Where each word first appears on screen, from left, in the element's text: a Range per word.
WORD_LEFTS_JS = """
const [root, words] = [document.querySelector(arguments[0]), arguments[1]];
const text = [], nodes = [];
const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) nodes.push(node);
return words.map(word => {
  for (const node of nodes) {
    const at = node.data.indexOf(word);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + word.length);
    const box = range.getBoundingClientRect();
    return [Math.round(box.left), Math.round(box.top)];
  }
  return null;
});
"""
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: what follows it, unisolated, is laid out backwards


def test_stored_text_never_reorders_the_page_s_own_words(driver: Any, tmp_path: Path) -> None:
    values = ["10.0.0.0/8", "10.1.0.0/16", "10.1.0.0/16", "bad\u202evalue"]
    ids = [f"{RLO}tnerap", 2, f"{RLO}x", 4]
    browser.open_page(driver, write_page(tmp_path, values, ids))
    assert driver.execute_script(FIND_JS, "10.0.0.0/8") == "10.0.0.0/8 is in the table."
    words = ["depth", "parent", "child", "addresses", "free"]
    lefts = driver.execute_script(WORD_LEFTS_JS, "#details-text", words)
    assert all(left is not None for left in lefts), lefts
    assert len({top for _, top in lefts}) == 1, lefts  # one line: left to right is reading order
    assert [left for left, _ in lefts] == sorted(left for left, _ in lefts), lefts
    assert driver.execute_script(FIND_JS, "10.1.0.0/16") == "10.1.0.0/16 is in the table."
    lefts = driver.execute_script(WORD_LEFTS_JS, "#details-text", ["depth", "parent", "none"])
    assert lefts[0][0] < lefts[1][0], lefts  # "...x · depth 1 · parent", never "tnerap · 1 htped"
    for selector in (".ids", "#details bdi", "#summary dd", "#invalid td"):
        isolation = driver.execute_script(
            "return [...document.querySelectorAll(arguments[0])]"
            ".map(cell => getComputedStyle(cell).unicodeBidi)",
            selector,
        )
        assert isolation and set(isolation) <= {"isolate", "plaintext"}, (selector, isolation)


# -- Sizes: a huge stored value, a phone, 200% zoom

LAYOUT_JS = """
const width = document.documentElement.clientWidth;
const header = [...document.querySelector('.columns').children];
const shown = (cell) => cell.getClientRects().length > 0;
const rows = [...document.querySelectorAll('#tree [role=treeitem] > .row')].map(row => {
  const cells = [...row.children];
  const prefix = cells[0], text = prefix.querySelector('.text');
  return {
    level: Number(row.parentElement.getAttribute('aria-level')),
    prefix: text.textContent,
    prefix_whole: prefix.scrollWidth <= prefix.clientWidth
      && text.getBoundingClientRect().right <= prefix.getBoundingClientRect().right + 0.5,
    percent_seen: shown(row.querySelector('.percent'))
      && row.querySelector('.percent').getBoundingClientRect().right <= width,
    shown: cells.map(shown),
    misaligned: cells.map((cell, index) => {
      if (!shown(cell)) return null;
      const [mine, theirs] = [cell, header[index]].map(element => element.getBoundingClientRect());
      const right = Math.abs(mine.right - theirs.right);
      return index === 0 ? right : Math.max(right, Math.abs(mine.left - theirs.left));
    }),
  };
});
return {
  page_width: document.documentElement.scrollWidth, width,
  header_shown: header.map(shown), rows,
};
"""
SIZES = {  # CSS pixels wide and high, device pixels per CSS pixel, a phone?
    "desktop": (1280, 900, 1, False),
    "200% zoom": (640, 450, 2, False),  # what a 1280x900 window shows at 200%
    "phone": (390, 844, 3, True),
}


def at_size(driver: Any, size: str) -> None:
    width, height, scale, mobile = SIZES[size]
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile},
    )


def layout(driver: Any, page: Path, size: str) -> dict[str, Any]:
    """The page at this size with every node open."""
    at_size(driver, size)
    try:
        browser.open_page(driver, page)
        driver.execute_script(OPEN_ALL_JS)
        result: dict[str, Any] = driver.execute_script(LAYOUT_JS)
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return result


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("table", ["shipped", "hard"])
def test_prefix_and_utilization_are_readable_and_cells_line_up_at_every_size(
    driver: Any, tmp_path: Path, size: str, table: str
) -> None:
    page = table_page(tmp_path, table)[0]
    seen = layout(driver, page, size)
    assert seen["header_shown"][0] and seen["header_shown"][3]  # prefix, utilization
    rows = seen["rows"]
    assert max(row["level"] for row in rows) >= 3
    for row in rows:
        assert row["shown"] == seen["header_shown"], (size, row)  # a cell for every header
        assert all(off is None or off <= 1 for off in row["misaligned"]), (size, row)
        assert row["prefix_whole"] and row["percent_seen"], (size, row)
    assert seen["page_width"] <= seen["width"]  # no horizontal scrolling
    if size == "desktop":
        assert all(seen["header_shown"])  # every column where there is room


@pytest.mark.parametrize("size", list(SIZES))
def test_a_huge_stored_value_never_widens_the_page(driver: Any, tmp_path: Path, size: str) -> None:
    huge = "x" * 200_000
    values = ["10.0.0.0/8", "10.1.0.0/16", huge, f"10.2.0.0/16 {huge}"]
    ids = [f"a{huge}", 2, f"b{huge}", 4]
    page = write_page(tmp_path, values, ids)
    at_size(driver, size)
    try:
        browser.open_page(driver, page)
        widths = {"opened": driver.execute_script(WIDTH_JS)}
        driver.execute_script(OPEN_ALL_JS)
        assert driver.execute_script(FIND_JS, "10.0.0.0/8") == "10.0.0.0/8 is in the table."
        driver.find_element("id", "free-button").click()
        widths["its details shown"] = driver.execute_script(WIDTH_JS)
        assert driver.execute_script(FIND_JS, huge).startswith("x")
        widths["after a failed find of it"] = driver.execute_script(WIDTH_JS)
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert all(page <= window for page, window in widths.values()), widths


# How wide the page is, and how wide the window shows it (a scroll bar taken off).
WIDTH_JS = "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
