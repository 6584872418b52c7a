"""prefixes.html without a browser: its columns decode to the tree, stored text stays text, and
a run writes it only when it would change. (In a browser: ``test_page_browser.py``.)"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ipam import page
from ipam.__main__ import main
from ipam.hierarchy import build_hierarchy
from ipam.networks import network_key, network_text
from ipam.service import run_once
from ipam.tests.helpers import REPO_ROOT, add_row, make_database
from ipam.tests.test_tree import tables
from ipam.tree import build_tree
from servicekit.runs import RunError

SHIPPED = REPO_ROOT / "database" / "prefixes.db"
DATA = re.compile(rb'<script type="application/json" id="ipam-data">(.*?)</script>', re.DOTALL)
MARKUP = ["<img src=x onerror=alert(1)>", "</script><script>alert(2)</script>", "a\u2028b\u2029c"]


def page_bytes(values: Sequence[object], ids: Sequence[object] | None = None) -> bytes:
    ids = list(range(1, len(values) + 1)) if ids is None else ids
    hierarchy = build_hierarchy(values)
    invalid = [
        (ids[row], values[row], str(hierarchy.row_keys[row])) for row in hierarchy.invalid_rows
    ]
    sorted_ids = [ids[row] for row in hierarchy.rows]
    header = {"database": "db", "time": "t", "rows": len(values), "valid": 0, "invalid": 0}
    data = page.PageData(header, hierarchy.keys, hierarchy.parents, sorted_ids, invalid)
    template = page.read_template()
    return b"".join(page.page_pieces(template, b"<!DOCTYPE html>\n", data))


def embedded(html: bytes) -> dict[str, Any]:
    (match,) = DATA.findall(html)
    return json.loads(match)


def decoded_nodes(data: dict) -> list[tuple[str, list[object], int, str | None, int]]:
    """What the page's script derives, done in Python: (prefix, ids, depth, parent, children)."""
    nodes: list[tuple[str, list[object], int, str | None, int]] = []
    addresses: list[int] = []
    lengths, rises = base64.b64decode(data["l"]), base64.b64decode(data["u"])
    children = [0] * len(lengths)
    path: list[int] = []  # the ancestors of the node before, and it, root first
    for node, (length, rise, offset, ids) in enumerate(zip(lengths, rises, data["a"], data["i"])):
        depth = (nodes[node - 1][2] if node else -1) + 1 - rise
        del path[depth:]
        parent = path[-1] if depth else -1
        path.append(node)
        ipv6 = node >= data["ipv4"]
        blocks = int(offset, 16) if isinstance(offset, str) else offset  # counted in its size
        address = (addresses[parent] if depth else 0) + (blocks << ((128 if ipv6 else 32) - length))
        addresses.append(address)
        if depth:
            children[parent] += 1
        network = ipaddress.ip_network((address, length)) if not ipv6 else None
        text = str(network or ipaddress.IPv6Network((address, length)))
        parent_text = nodes[parent][0] if depth else None
        nodes.append((text, ids if isinstance(ids, list) else [ids], depth, parent_text, 0))
    return [(*node[:4], children[index]) for index, node in enumerate(nodes)]


@given(tables())
def test_the_columns_decode_to_the_nodes_of_the_tree(values: list[object]) -> None:
    data = embedded(page_bytes(values))
    expected = [
        (node.prefix, node.ids, node.depth, node.parent_prefix, node.children)
        for node in build_tree(values, list(range(1, len(values) + 1))).nodes()
    ]
    assert decoded_nodes(data) == expected
    assert data["networks"] == len(expected)
    invalid = [[row + 1, value, error] for row, value, error in _invalid(values)]
    assert data["invalid_rows"] == invalid


def _invalid(values: list[object]) -> list[tuple[int, object, str]]:
    tree = build_tree(values, list(range(len(values))))
    return [
        (row_id, value.hex() if isinstance(value, bytes) else value, error)  # type: ignore[misc]
        for row_id, value, error in tree.invalid_rows
    ]


def test_the_shipped_database_decodes_and_the_tree_comes_first_ipv4_then_ipv6() -> None:
    table = sqlite3.connect(f"file:{SHIPPED}?mode=ro", uri=True)
    rows = table.execute("SELECT id, prefix FROM prefixes ORDER BY id").fetchall()
    table.close()
    data = embedded(page_bytes([row[1] for row in rows], [row[0] for row in rows]))
    nodes = decoded_nodes(data)
    assert nodes[0] == ("10.0.0.0/8", [7], 0, None, 2)
    assert ("10.10.2.0/24", [2, 14], 2, "10.10.0.0/16", 1) in nodes
    assert data["ipv4"] == sum(1 for node in nodes if ":" not in node[0])
    assert all(":" in node[0] for node in nodes[data["ipv4"] :])


def test_offsets_count_blocks_of_the_node_and_parents_are_levels_up() -> None:
    """Addresses are offsets from the parent in the node's own blocks (a number, or hex text
    past what a JavaScript number holds exactly); parents are levels up from the node before."""
    values = ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.2.0.0/16", "11.0.0.0/8"]
    values += ["2001:db8::/32", "2001:db8::/48", "2001:db8::1/128", "2001:db8:0:1::/64"]
    values += ["3fff::1/128"]
    data = embedded(page_bytes(values))
    big = "0x3fff0000000000000000000000000001"
    assert data["a"] == [10, 1, 2, 2, 11, 0x20010DB8, 0, 1, 1, big]
    assert list(base64.b64decode(data["u"])) == [0, 0, 0, 2, 2, 1, 0, 0, 1, 3]
    assert list(base64.b64decode(data["l"])) == [8, 16, 24, 16, 8, 32, 48, 128, 64, 128]


def test_ids_javascript_cannot_hold_exactly_are_text() -> None:
    big = 2**53 + 1
    values = ["10.0.0.0/8", "10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16", "10.4.0.0/16"]
    ids: list[object] = [big, "7", b"\xff", float("inf"), None]
    data = embedded(page_bytes(values, ids))
    assert data["i"] == [[str(big)], ["7"], ["ff"], ["Infinity"], [None]]
    duplicates = embedded(page_bytes(["::/0", "::/0", "10.0.0.0/8", "10.0.0.0/8"], ["a", 2, 3, 4]))
    assert duplicates["i"] == [[3, 4], ["a", 2]]  # a node's ids in row order
    nan = embedded(page_bytes(["10.0.0.0/8"], [float("nan")]))
    assert nan["i"] == [["NaN"]]
    negative = embedded(page_bytes(["10.0.0.0/8", "::/0"], [-(2**53) - 1, -(2**53) + 1]))
    assert negative["i"] == [[str(-(2**53) - 1)], -(2**53) + 1]


def test_ids_at_the_edges_of_what_a_javascript_number_holds_exactly() -> None:
    edge = 2**53  # -edge and edge are doubles, but so are -edge - 1 and edge + 1: not exact
    for ids, column in (
        ([edge - 1], [edge - 1]),
        ([-edge + 1], [-edge + 1]),
        ([edge], [[str(edge)]]),
        ([-edge], [[str(-edge)]]),
    ):
        assert embedded(page_bytes(["10.0.0.0/8"], ids))["i"] == column
    # The same ids beside one that is not an integer, and as invalid rows' ids.
    values = ["10.0.0.0/8", "10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16", "10.4.0.0/16"]
    data = embedded(page_bytes(values, ["x", edge - 1, -edge + 1, edge, -edge]))
    assert data["i"] == [["x"], edge - 1, -edge + 1, [str(edge)], [str(-edge)]]
    data = embedded(page_bytes(["junk", "junk", "junk"], [edge - 1, edge, -edge]))
    assert [row[0] for row in data["invalid_rows"]] == [edge - 1, str(edge), str(-edge)]


def test_plain_integer_ids_are_bare_numbers_and_duplicates_compact_lists() -> None:
    (data,) = DATA.findall(page_bytes(["10.0.0.0/8", "::/0", "10.0.0.0/8", "10.1.0.0/16"]))
    assert data.endswith(b', "i": [[1,3],4,2]}')  # 10.0.0.0/8 (rows 1, 3), 10.1.0.0/16, ::/0


@given(st.lists(st.text(alphabet="<>&x\u2028", max_size=5), min_size=1, max_size=4))
@example(["<"])
@example([">"])
@example(["&"])
def test_no_less_than_greater_than_or_ampersand_reaches_the_script_raw(texts: list[str]) -> None:
    """Each alone, or with others: every stored text (a value, an id) is escaped."""
    values: list[object] = [*texts, "10.0.0.0/8"]  # the texts are invalid rows
    (data,) = DATA.findall(page_bytes(values, [*texts, texts[0]]))
    assert not re.search(rb"[<>&]", data)
    decoded = json.loads(data)
    assert [row[:2] for row in decoded["invalid_rows"]] == [[text, text] for text in texts]
    assert decoded["i"] == [[texts[0]]]


def test_stored_text_never_leaves_the_json_as_markup() -> None:
    values: list[object] = [*MARKUP, "10.0.0.0/8", "10.0.0.0/8"]
    html = page_bytes(values, [*MARKUP, "<b>id</b>", "&amp;\u2028"])
    text = html.decode("ascii")  # every non-ASCII character is an escape
    assert text.count("</script>") == 2  # the two script elements' own
    assert "<img" not in text and "<b>" not in text and "&amp;" not in text
    data = embedded(html)
    assert [row[:2] for row in data["invalid_rows"]] == [[value, value] for value in MARKUP]
    assert data["i"] == [["<b>id</b>", "&amp;\u2028"]]


def test_the_stamp_changes_with_the_data_the_database_and_the_template(tmp_path: Path) -> None:
    template = page.read_template()
    stamp = page.page_stamp(template, b"[]\n", "db")
    assert stamp.startswith(b"<!DOCTYPE html><!-- ipam ") and stamp.endswith(b" -->\n")
    assert page.page_stamp(template, b"[]\n", "db") == stamp
    assert page.page_stamp(template, b"[ ]\n", "db") != stamp
    assert page.page_stamp(template, b"[]\n", "other") != stamp
    other = template._replace(version="0" * 16)
    assert page.page_stamp(other, b"[]\n", "db") != stamp
    path = tmp_path / "prefixes.html"
    assert not page.is_current(path, stamp)  # missing
    path.write_bytes(stamp + b"<html>")
    assert page.is_current(path, stamp)
    path.write_bytes(stamp[:-3])
    assert not page.is_current(path, stamp)


def test_the_template_version_changes_with_each_of_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So that a page an older ipam wrote is rewritten once the new one runs."""
    names = ("page.html", "page.css", "page.js")
    for name in names:
        shutil.copyfile(REPO_ROOT / "ipam" / name, tmp_path / name)
    monkeypatch.setattr(page, "_HERE", tmp_path)
    versions = [page.read_template().version, page.read_template().version]
    assert versions[0] == versions[1]
    for name in names:
        with (tmp_path / name).open("a", encoding="utf-8") as file:
            file.write("\n")
        versions.append(page.read_template().version)
    assert len(set(versions)) == 4


def test_a_database_path_that_is_not_utf8_is_stamped_by_its_bytes() -> None:
    template = page.read_template()
    names = [os.fsdecode(name) for name in (b"caf\xe9.db", b"caf\xe8.db", b"caf\xc3\xa9.db")]
    stamps = {page.page_stamp(template, b"[]\n", name) for name in names}
    assert len(stamps) == 3


@pytest.mark.parametrize("dotted", [False, True])
def test_mapped_addresses_are_spelled_as_this_runs_tree_spells_them(
    dotted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python 3.13 writes ::ffff:10.0.0.0, older ones ::ffff:a00:0: the page's script writes
    them as the run's own ipaddress does, and learns which from ``dotted_mapped``."""
    if dotted:  # 3.13's spelling, on any Python
        hex_text = ipaddress.IPv6Address.__str__

        def dotted_text(address: ipaddress.IPv6Address) -> str:
            mapped = address.ipv4_mapped
            return hex_text(address) if mapped is None else f"::ffff:{mapped}"

        monkeypatch.setattr(ipaddress.IPv6Address, "__str__", dotted_text)
    key = network_key("::ffff:10.0.0.0/104")
    assert isinstance(key, int)
    text = network_text(key)
    if dotted:
        assert text == "::ffff:10.0.0.0/104"
    assert embedded(page_bytes(["::ffff:10.0.0.0/104"]))["dotted_mapped"] is ("." in text)


def test_the_page_is_the_template_with_its_three_slots_filled() -> None:
    html = page_bytes(["10.0.0.0/8"]).decode("ascii")
    template = page.read_template()
    for part in template.parts:
        assert part in html
    assert template.style.decode() in html and template.script.decode() in html
    assert "/*STYLE*/" not in html and "/*DATA*/" not in html and "/*SCRIPT*/" not in html
    assert not re.search(r"\b(src|href)=", html), "the page must load nothing"


def test_columns_are_written_in_chunks_that_join_to_one_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = [f"10.{second}.0.0/16" for second in range(7)]
    whole = embedded(page_bytes(values))
    monkeypatch.setattr(page, "_NODES_PER_CHUNK", 3)
    assert embedded(page_bytes(values)) == whole
    assert base64.b64decode(whole["l"]) == bytes([16] * 7)


# -- Written by the run


def test_a_run_writes_the_page_then_leaves_it_until_the_data_changes(tmp_path: Path) -> None:
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8"), (2, "junk")])
    output, html = tmp_path / "prefixes.json", tmp_path / "prefixes.html"
    first = run_once(database, output, html)
    assert (first.page, first.details()["page"]) == ("yes", "yes")
    content = html.read_bytes()
    assert embedded(content)["invalid_rows"] == [
        [2, "junk", embedded(content)["invalid_rows"][0][2]]
    ]
    assert b"database" in content and str(database).encode() in content
    assert oct(html.stat().st_mode & 0o777) == "0o644"
    os.utime(html, (1, 1))
    assert run_once(database, output, html).page == "no"
    assert html.stat().st_mtime == 1  # not rewritten
    add_row(database, "3, '10.1.0.0/16'")
    assert run_once(database, output, html).page == "yes"
    assert len(base64.b64decode(embedded(html.read_bytes())["l"])) == 2


def test_a_page_from_an_older_version_or_a_missing_one_is_written(tmp_path: Path) -> None:
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8")])
    output, html = tmp_path / "prefixes.json", tmp_path / "prefixes.html"
    run_once(database, output, html)
    html.write_bytes(b"<!DOCTYPE html><!-- ipam 0000000000000000 old -->\n")
    assert run_once(database, output, html).page == "yes"
    assert run_once(database, output, html).page == "no"
    html.unlink()
    result = run_once(database, output, html)
    assert (result.written, result.page) == (False, "yes")


def test_without_a_page_path_no_page(tmp_path: Path) -> None:
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8")])
    result = run_once(database, tmp_path / "prefixes.json")
    assert result.page == "off" and result.details()["page"] == "off"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["prefixes.db", "prefixes.json"]


def test_a_page_that_cannot_be_written_fails_the_run_and_the_next_run_writes_it(
    tmp_path: Path,
) -> None:
    database = make_database(tmp_path / "prefixes.db", [(1, "10.0.0.0/8")])
    output = tmp_path / "prefixes.json"
    html = tmp_path / "missing" / "prefixes.html"
    with pytest.raises(RunError, match=r"^cannot write .*prefixes\.html: No such file"):
        run_once(database, output, html)
    assert output.exists()  # the JSON went first; the page follows on the next run
    html.parent.mkdir()
    assert run_once(database, output, html).page == "yes"


# -- The command line


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("IPAM_HTML", raising=False)
    monkeypatch.delenv("IPAM_OUTPUT", raising=False)
    monkeypatch.setenv("IPAM_DB", str(make_database(tmp_path / "prefixes.db", [(1, "::/0")])))
    (tmp_path / "out").mkdir()
    return tmp_path / "out"


def test_the_page_goes_beside_the_json_by_default(run_dir: Path) -> None:
    assert main(["--once", "--output", str(run_dir / "p.json")]) == 0
    assert sorted(path.name for path in run_dir.iterdir()) == ["p.json", "prefixes.html"]


def test_html_and_its_variable_choose_the_path(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = str(run_dir / "p.json")
    assert main(["--once", "--output", output, "--html", str(run_dir / "flag.html")]) == 0
    monkeypatch.setenv("IPAM_HTML", str(run_dir / "env.html"))
    assert main(["--once", "--output", output]) == 0
    assert sorted(path.name for path in run_dir.iterdir()) == ["env.html", "flag.html", "p.json"]


@pytest.mark.parametrize(
    ("arguments", "variable"),
    [(["--no-html"], ""), ([], "off"), (["--html", "off"], ""), (["--no-html"], "x.html")],
)
def test_no_html_and_the_value_off_turn_the_page_off(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, arguments: list[str], variable: str
) -> None:
    monkeypatch.setenv("IPAM_HTML", variable)
    monkeypatch.chdir(run_dir)
    assert main(["--once", "--output", str(run_dir / "p.json"), *arguments]) == 0
    assert [path.name for path in run_dir.iterdir()] == ["p.json"]
