"""Benchmark the page, ``output/prefixes.html``, in headless Chromium: every action of the tree.

Three tables: a generated one of 1,000,000 rows built to be wide and deep (a /8 with 500,000
children, about 300,000 roots, IPv6 chains 113 levels deep), the RouteViews pfx2as tables of
../shared/bench/ (read with ``bench_ipam``'s loader), and ``::/0`` with 100,000 random /64 to
/128 children all over the space: 7.8 M free blocks, which the free-space actions count without
making them (each of those actions is timed three times, the best kept). For each, the page a
run writes is opened in the Chromium of the page's tests, and each action is driven as a user
would (keys are keydown events on the focused row, find is the form's submit, scrolling sets the
scroll bar), timed inside the page from the action to the next frame drawn after it. Each line
gives that time, the treeitems and all elements in the DOM after it, and the JS heap in use (the
Chrome DevTools Protocol's ``Runtime.getHeapUsage``).

    python bench/bench_page.py          # 1,000,000 generated rows, RouteViews, ::/0 scattered
    python bench/bench_page.py --rows 20000 --scattered 5000 --no-routeviews   # a smoke run
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

from bench_ipam import DATA_DIR, ROUTEVIEWS_DIR, routeviews_prefixes, write_database  # noqa: E402

from ipam.hierarchy import NO_PARENT, build_hierarchy  # noqa: E402
from ipam.networks import IPV6_BIT, LENGTH_BITS, network_text  # noqa: E402
from ipam.service import run_once  # noqa: E402
from ipam.tests import browser  # noqa: E402

SEED = 20241207
CHAIN = range(16, 129)  # the lengths of one IPv6 chain: 113 nested networks, /16 to /128

# One action, timed in the page from its start to the next frame drawn (the list renders in
# the scroll event, before that frame).
ACTION_JS = """
const [kind, argument, done] = arguments;
const press = (key) => document.activeElement.dispatchEvent(
  new KeyboardEvent('keydown', {key, bubbles: true, cancelable: true}));
const list = document.getElementById('tree-scroll');
const started = performance.now();
if (kind === 'find') {
  document.getElementById('query').value = argument;
  document.getElementById('find').requestSubmit();
} else if (kind === 'key') {
  press(argument);
} else if (kind === 'scroll') {
  list.scrollTop = argument * (list.scrollHeight - list.clientHeight);
} else if (kind === 'switch') {
  document.getElementById('free-switch').click();
}
requestAnimationFrame(() => setTimeout(() => {
  const selected = document.querySelector('#tree [aria-selected=true] .text');
  done([performance.now() - started,
        document.querySelectorAll('#tree [role=treeitem]').length,
        document.getElementsByTagName('*').length,
        selected ? selected.textContent : '']);
}));
"""


def generate_prefixes(rows: int, seed: int) -> list[str]:
    """A /8 with half the rows as children (/28s), 30% as /24 roots, the rest IPv6 chains."""
    rng = random.Random(seed)
    children = rng.sample(range(1 << 20), rows // 2)
    roots = rng.sample(range(11 << 16, 100 << 16), rows * 3 // 10 - 1)
    prefixes = ["10.0.0.0/8"]
    prefixes += [f"10.{k >> 12}.{(k >> 4) & 255}.{(k & 15) << 4}/28" for k in children]
    prefixes += [f"{k >> 16}.{(k >> 8) & 255}.{k & 255}.0/24" for k in roots]
    while len(prefixes) < rows:
        address = (0b001 << 125) | rng.getrandbits(125)
        for length in CHAIN:
            network = address >> (128 - length) << (128 - length)
            prefixes.append(network_text(IPV6_BIT | network << LENGTH_BITS | length))
    del prefixes[rows:]
    rng.shuffle(prefixes)
    return prefixes


def targets(prefixes: Sequence[str]) -> dict[str, str]:
    """What the actions find, from the engine's own hierarchy: the first, last and deepest
    networks, the last root and one about the 50,000th, the node with the most children, two of
    its children and the network after it."""
    hierarchy = build_hierarchy(prefixes)
    keys, parents = hierarchy.keys, hierarchy.parents
    firsts = [i for i in range(len(keys)) if i == 0 or keys[i] != keys[i - 1]]
    depth: dict[int, int] = {}
    children: dict[int, list[int]] = {}
    roots = []
    for position in firsts:
        parent = parents[position]
        depth[position] = depth[parent] + 1 if parent != NO_PARENT else 0
        if parent == NO_PARENT:
            roots.append(position)
        else:
            children.setdefault(parent, []).append(position)
    widest = max(children, key=lambda position: len(children[position]))
    kids = children[widest]
    after = next(
        (p for p in firsts if p > widest and depth[p] <= depth[widest]), roots[0]
    )  # the row after its subtree
    text = lambda position: network_text(keys[position])  # noqa: E731
    return {
        "first": text(firsts[0]),
        "last": text(firsts[-1]),
        "deepest": text(max(firsts, key=depth.__getitem__)),
        "last root": text(roots[-1]),
        "root #50,000": text(roots[min(49_999, len(roots) - 1)]),
        "widest": text(widest),
        "widest children": f"{len(kids):,}",
        "child #15,616": text(kids[min(15_615, len(kids) - 1)]),
        "child #20,490": text(kids[min(20_489, len(kids) - 1)]),
        "after widest": text(after),
    }


def actions(target: dict[str, str]) -> list[tuple[str, str, object]]:
    """(what, kind, argument) in order: each starts where the one before left the tree."""
    widest = f"the widest node ({target['widest']}, {target['widest children']} children)"
    return [
        (f"find the first network {target['first']}", "find", target["first"]),
        (f"find the last root {target['last root']}", "find", target["last root"]),
        (f"find the deepest {target['deepest']}", "find", target["deepest"]),
        (f"find the last network {target['last']}", "find", target["last"]),
        (f"find root #50,000 {target['root #50,000']}", "find", target["root #50,000"]),
        ("find 2001:db8:ffff::1", "find", "2001:db8:ffff::1"),
        ("find 2c0f:ffd8::1", "find", "2c0f:ffd8::1"),
        ("Home", "key", "Home"),
        ("End", "key", "End"),
        ("PageUp", "key", "PageUp"),
        ("PageDown", "key", "PageDown"),
        (f"find {widest}", "find", target["widest"]),
        ("Right: open it", "key", "ArrowRight"),
        ("Down: off it, to its first child", "key", "ArrowDown"),
        ("Up: onto it", "key", "ArrowUp"),
        (f"find its child #15,616 {target['child #15,616']}", "find", target["child #15,616"]),
        (f"find its child #20,490 {target['child #20,490']}", "find", target["child #20,490"]),
        (f"find the row after it {target['after widest']}", "find", target["after widest"]),
        ("Up: onto its last child", "key", "ArrowUp"),
        ("Down: off it again", "key", "ArrowDown"),
        ("End (it open)", "key", "End"),
        ("Home (it open)", "key", "Home"),
        ("PageDown (it open)", "key", "PageDown"),
        ("scroll bar to 25%", "scroll", 0.25),
        ("scroll bar to 50%", "scroll", 0.5),
        ("scroll bar to 100%", "scroll", 1),
        ("scroll bar to 0%", "scroll", 0),
        ("free space on (it open)", "switch", None),
        (f"find its child #20,490 {target['child #20,490']}", "find", target["child #20,490"]),
        ("End (free space shown)", "key", "End"),
        ("free space off", "switch", None),
        (f"find {widest} again", "find", target["widest"]),
        ("Left: close it", "key", "ArrowLeft"),
        ("Right: open it again", "key", "ArrowRight"),
    ]


def heap_mib(driver: Any) -> float:
    return float(driver.execute_cdp_cmd("Runtime.getHeapUsage", {})["usedSize"]) / 2**20


def bench_table(label: str, prefixes: list[str], database: Path) -> list[str]:
    """Open the table's page and run every action; the table lines of the report."""
    print(f"\n## {label}: {len(prefixes):,} rows", flush=True)
    target = targets(prefixes)
    print(f"  the widest node: {target['widest']}, {target['widest children']} children")
    with tempfile.TemporaryDirectory() as scratch:
        page = Path(scratch) / "prefixes.html"
        run_once(database, Path(scratch) / "prefixes.json", page)
        print(f"  page: {page.stat().st_size:,} bytes", flush=True)
        with browser.chromium(1280, 800) as driver:
            started = time.perf_counter()
            browser.open_page(driver, page)
            loaded = time.perf_counter() - started
            ready, script = driver.execute_script(
                "const marks = document.documentElement.dataset;"
                "return [Number(marks.readyMs), Number(marks.scriptMs)]"
            )
            treeitems = driver.execute_script(
                "return document.querySelectorAll('#tree [role=treeitem]').length"
            )
            lines = [
                f"| {label} | first rows (request to rows drawn; {ready} ms after navigation "
                f"started, {script} ms the script's own) "
                f"| {loaded * 1000:.0f} ms | {treeitems} | {heap_mib(driver):.0f} MiB |"
            ]
            print(lines[0], flush=True)
            for what, kind, argument in actions(target):
                milliseconds, treeitems, _elements, selected = driver.execute_async_script(
                    ACTION_JS, kind, argument
                )
                line = (
                    f"| {label} | {what} | {milliseconds:.0f} ms | {treeitems} "
                    f"| {heap_mib(driver):.0f} MiB |"
                )
                print(f"{line} selected: {selected}", flush=True)
                lines.append(line)
            errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
            if errors:
                raise SystemExit(f"the page logged errors: {errors}")
    return lines


def scattered_prefixes(children: int, seed: int) -> list[str]:
    """``::/0`` and that many random networks, /64 to /128, all over the IPv6 space."""
    rng = random.Random(seed)
    prefixes = {"::/0"}
    while len(prefixes) <= children:
        length = rng.randint(64, 128)
        network = rng.getrandbits(length) << (128 - length)
        prefixes.add(network_text(IPV6_BIT | network << LENGTH_BITS | length))
    return sorted(prefixes)


# The free-space actions on ::/0, in order, from it closed with free space off and back there:
# (what, kind, argument, timed). The untimed steps put the focus back and set the state.
SCATTERED_ACTIONS: list[tuple[str, str, object, bool]] = [
    ("find ::/0", "find", "::/0", False),
    ("Right: open it", "key", "ArrowRight", False),
    ("free space on (it open)", "switch", None, True),
    ("find ::/0", "find", "::/0", False),
    ("End (free space shown)", "key", "End", True),
    ("free space off (it open)", "switch", None, True),
    ("find ::/0", "find", "::/0", False),
    ("Left: close it", "key", "ArrowLeft", False),
    ("free space on (it closed)", "switch", None, False),
    ("find ::/0", "find", "::/0", False),
    ("Right: open it (free space shown)", "key", "ArrowRight", True),
    ("free space off", "switch", None, False),
    ("find ::/0", "find", "::/0", False),
    ("Left: close it", "key", "ArrowLeft", False),
]


def bench_scattered(label: str, prefixes: list[str], database: Path) -> list[str]:
    """The free-space actions on ``::/0`` of scattered children, three times each: the best."""
    print(f"\n## {label}: {len(prefixes):,} rows", flush=True)
    best: dict[str, tuple[float, int, float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        page = Path(scratch) / "prefixes.html"
        run_once(database, Path(scratch) / "prefixes.json", page)
        print(f"  page: {page.stat().st_size:,} bytes", flush=True)
        with browser.chromium(1280, 800) as driver:
            browser.open_page(driver, page)
            for _ in range(3):
                for what, kind, argument, timed in SCATTERED_ACTIONS:
                    milliseconds, treeitems, _elements, selected = driver.execute_async_script(
                        ACTION_JS, kind, argument
                    )
                    if timed:
                        position = driver.execute_script(
                            "return document.activeElement.getAttribute('aria-posinset')"
                        )
                        print(f"  {what}: {milliseconds:.0f} ms, {selected} ({position})")
                        if what not in best or milliseconds < best[what][0]:
                            best[what] = (milliseconds, treeitems, heap_mib(driver))
            errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
            if errors:
                raise SystemExit(f"the page logged errors: {errors}")
    return [
        f"| {label} | {what} (best of 3) | {milliseconds:.0f} ms | {treeitems} | {heap:.0f} MiB |"
        for what, (milliseconds, treeitems, heap) in best.items()
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="generated rows (1,000,000)")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the generated table")
    parser.add_argument(
        "--routeviews-dir", type=Path, default=ROUTEVIEWS_DIR, help="where the pfx2as files are"
    )
    parser.add_argument("--no-routeviews", action="store_true", help="skip the RouteViews tables")
    parser.add_argument(
        "--scattered", type=int, default=100_000, help="children of ::/0 (100,000; 0: none)"
    )
    arguments = parser.parse_args(argv)
    reason = browser.skip_reason()
    if reason:
        raise SystemExit(f"no browser: {reason}")
    table = ["| table | action | time | treeitems | JS heap |", "|---|---|---:|---:|---:|"]
    prefixes = generate_prefixes(arguments.rows, arguments.seed)
    database = DATA_DIR / f"page-{arguments.rows}-{arguments.seed}.db"
    if not database.exists():
        write_database(database, prefixes)
    table += bench_table(f"generated ({arguments.rows:,})", prefixes, database)
    routeviews = None if arguments.no_routeviews else routeviews_prefixes(arguments.routeviews_dir)
    if routeviews is not None:
        database = DATA_DIR / "routeviews-20160202.db"
        if not database.exists():
            write_database(database, routeviews)
        table += bench_table(f"RouteViews ({len(routeviews):,})", routeviews, database)
    elif not arguments.no_routeviews:
        print(f"\nRouteViews skipped: no pfx2as files in {arguments.routeviews_dir}")
    if arguments.scattered:
        scattered = scattered_prefixes(arguments.scattered, arguments.seed)
        database = DATA_DIR / f"page-scattered-{arguments.scattered}-{arguments.seed}.db"
        if not database.exists():
            write_database(database, scattered)
        label = f"::/0 and {arguments.scattered:,} scattered"
        table += bench_scattered(label, scattered, database)
    print("\n" + "\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
