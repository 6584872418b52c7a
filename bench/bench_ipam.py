"""Benchmark the ipam service's whole path (SQLite -> closest parents -> JSON file) against anchors.

Every pipeline reads the table with ``ipam.store``, builds the JSON with ``ipam.report`` and writes
it with ``ipam.output``; only the parent computation differs:

- ``ipam``: ``ipam.parents.find_closest_parents`` (the service);
- ``validated pytricia``: every row parsed with ``ipaddress.ip_network(..., strict=False)``, then
  one pytricia trie per IP version and ``parent()`` (what a careful user would build);
- ``raw pytricia``: the stored strings fed straight to pytricia's C parser (right only on clean,
  canonical input, which both data sets are): a C trie with no validation at all;
- ``raw py-radix``: the same with py-radix and ``search_covering``;
- ``ipaddress supernet walk``: parse with ipaddress, then walk ``supernet()`` up to /0 looking each
  step up in a set (run once, not best of N: it is slow).

Beside them, the views (``tree``, ``free``), each timed the same way, as ratios to ipam's path,
and netaddr answering ``free 0.0.0.0/0`` (checked to give the same blocks).

Then ``allocate`` (``--no-allocate`` skips it, ``--allocate-only`` runs only it), on copies of the
generated table: as whole processes, ``allocate 0.0.0.0/0 --length 24 --count 100`` against
``free 0.0.0.0/0 --length 24 --limit 100``, and ``tree --free`` against ``tree``; how long one
allocate holds the write lock; and 24 callers started at once (the time until the last commits,
the longest wait for the lock).

Data sets: a generated realistic IPv4+IPv6 hierarchy with duplicates (deterministic seed, cached in
bench/.data/), and the RouteViews pfx2as tables in ../shared/bench/ when present.

Each run is a fresh subprocess that reports its own peak RSS (VmHWM of /proc/self/status, which
unlike ru_maxrss does not inherit the parent's peak across fork and exec). Times are the path
inside the child (read, parents, JSON, write), best of --repeat. Every output must be
byte-identical to the service's (same writer, so identical parents; both data sets have no
invalid rows). Needs the bench extras: ``pip install -e '.[bench]'``.

The page (``output/prefixes.html``) on the generated table and on RouteViews: its bytes a row;
a run that writes it, and a steady run that finds it current, against a ``--no-html`` run (same
child processes, interleaved rounds, best of --repeat); then, in the headless Chromium of the
page's tests, the time to the first rows and the slowest of a few searches (``--no-page`` skips
all this).

    python bench/bench_ipam.py                     # 1,000,000 generated rows + RouteViews
    python bench/bench_ipam.py --rows 20000 --repeat 1 --no-routeviews   # a quick smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import gzip
import ipaddress
import json
import os
import random
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Callable, Optional

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from ipam.output import write_if_changed  # noqa: E402
from ipam.parents import find_closest_parents  # noqa: E402
from ipam.report import report_json  # noqa: E402
from ipam.store import read_prefix_table  # noqa: E402

DATA_DIR = REPO_ROOT / "bench" / ".data"
ROUTEVIEWS_DIR = REPO_ROOT.parent / "shared" / "bench"
ROUTEVIEWS_FILES = (
    "routeviews-rv2-20160202-1200.pfx2as.gz",
    "routeviews-rv6-20160202-1200.pfx2as.gz",
)
SEED = 20240719

Parents = tuple[list[Optional[str]], list[Optional[str]]]


# -- The parent computations. Each takes the stored prefix values and returns (parents, errors).


def ipam_engine(prefixes: Sequence[object]) -> Parents:
    result = find_closest_parents(prefixes)
    return result.parents, result.errors


def _ipaddress_networks(prefixes: Sequence[object]) -> tuple[list, list[str | None]]:
    """Each value parsed the way the service defines validity, with its error when invalid."""
    networks: list = []
    errors: list[str | None] = []
    for value in prefixes:
        try:
            if value is None:
                raise ValueError("prefix is NULL")
            networks.append(ipaddress.ip_network(str(value).strip(), strict=False))
            errors.append(None)
        except ValueError as error:
            networks.append(None)
            errors.append(str(error))
    return networks, errors


def validated_pytricia(prefixes: Sequence[object]) -> Parents:
    import pytricia  # noqa: PLC0415 - a bench-only dependency

    networks, errors = _ipaddress_networks(prefixes)
    tries = {4: pytricia.PyTricia(32), 6: pytricia.PyTricia(128)}
    for network in networks:
        if network is not None:
            tries[network.version][network] = None
    parents = [
        None if network is None else tries[network.version].parent(network) for network in networks
    ]
    return parents, errors


def raw_pytricia(prefixes: Sequence[object]) -> Parents:
    import pytricia  # noqa: PLC0415

    ipv4, ipv6 = pytricia.PyTricia(32), pytricia.PyTricia(128)
    texts = list(map(str, prefixes))  # valid text only: the raw baseline checks nothing
    for text in texts:
        (ipv6 if ":" in text else ipv4)[text] = None
    parents = [(ipv6 if ":" in text else ipv4).parent(text) for text in texts]
    return parents, [None] * len(prefixes)


def raw_py_radix(prefixes: Sequence[object]) -> Parents:
    import radix  # noqa: PLC0415

    tree = radix.Radix()
    for text in prefixes:
        tree.add(text)
    parents = []
    for text in prefixes:
        covering = tree.search_covering(text)  # most specific first: the row's own node
        parents.append(covering[1].prefix if len(covering) > 1 else None)
    return parents, [None] * len(prefixes)


def ipaddress_supernet_walk(prefixes: Sequence[object]) -> Parents:
    networks, errors = _ipaddress_networks(prefixes)
    present = set(networks) - {None}
    parents: list[str | None] = []
    for network in networks:
        parent = None
        ancestor = network
        while ancestor is not None and ancestor.prefixlen > 0:
            ancestor = ancestor.supernet()
            if ancestor in present:
                parent = str(ancestor)
                break
        parents.append(parent)
    return parents, errors


PIPELINES: dict[str, Callable[[Sequence[object]], Parents]] = {
    "ipam": ipam_engine,
    "validated pytricia": validated_pytricia,
    "raw pytricia": raw_pytricia,
    "raw py-radix": raw_py_radix,
    "ipaddress supernet walk": ipaddress_supernet_walk,
}
# The views, timed like the pipelines (read to the last line written) in their own child,
# output thrown away, beside "ipam", the path of --once. Text goes to a UTF-8 stream, as on a
# terminal. "netaddr free" answers the first free question with netaddr's IPSet, as a user would
# without ipam (the time of NetBox's available prefixes, less its database and ORM).
VIEWS: dict[str, list[str]] = {
    "tree": ["tree"],
    "tree --json": ["tree", "--json"],
    "free 0.0.0.0/0": ["free", "0.0.0.0/0"],
    "free ::/0 --length 64 --limit 100000": ["free", "::/0", "--length", "64", "--limit", "100000"],
    "netaddr free 0.0.0.0/0": [],
}
RUN_ONCE = {"ipaddress supernet walk", "netaddr free 0.0.0.0/0"}


def run_pipeline(name: str, database: Path, output: Path) -> float:
    """The whole path with one parent computation; the same reading and writing for all."""
    started = time.perf_counter()
    table = read_prefix_table(database)
    parents, errors = PIPELINES[name](table.prefixes)
    write_if_changed(output, report_json(table, parents, errors))
    return time.perf_counter() - started


def run_view(name: str, database: Path, output: Path) -> float:
    """``python -m ipam tree`` (or another view) in this process, writing to ``output``."""
    from ipam.__main__ import main as ipam_main  # noqa: PLC0415

    if name.startswith("netaddr"):
        return netaddr_free(database, output)
    command, *arguments = VIEWS[name]
    started = time.perf_counter()
    with open(output, "w", encoding="utf-8") as stream, contextlib.redirect_stdout(stream):
        code = ipam_main([command, "--db", str(database), *arguments])
    if code != 0:
        raise SystemExit(f"ipam {name} exited {code}")
    return time.perf_counter() - started


def netaddr_free(database: Path, output: Path) -> float:
    """The free blocks of 0.0.0.0/0 by netaddr: every valid IPv4 network but 0.0.0.0/0 used."""
    import netaddr  # noqa: PLC0415 - a bench-only dependency

    started = time.perf_counter()
    table = read_prefix_table(database)
    networks, _errors = _ipaddress_networks(table.prefixes)
    used = netaddr.IPSet(
        str(network)
        for network in networks
        if network and network.version == 4 and network.prefixlen
    )
    with open(output, "w", encoding="utf-8") as stream:
        for cidr in (netaddr.IPSet(["0.0.0.0/0"]) - used).iter_cidrs():
            stream.write(f"{cidr}\n")
    return time.perf_counter() - started


def check_free_blocks(label: str) -> None:
    """ipam's free blocks of 0.0.0.0/0 are netaddr's, line for line; then the outputs go."""
    ours = DATA_DIR / "out-free-0.0.0.0-0.last"
    theirs = DATA_DIR / "out-netaddr-free-0.0.0.0-0.last"
    blocks = [line.split()[0] for line in ours.read_text(encoding="utf-8").splitlines()[:-1]]
    if blocks != theirs.read_text(encoding="ascii").splitlines():
        raise SystemExit(f"free 0.0.0.0/0 does not give netaddr's blocks on {label}")
    for name in VIEWS:
        (DATA_DIR / f"out-{name.replace(' ', '-').replace('/', '-')}.last").unlink()


def peak_rss_mib() -> float:
    """This process's own peak resident set size."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# -- allocate: its time against free's, the write lock's, and 24 callers at once.

# Whole processes, output to /dev/null, interleaved round by round: (name, ipam arguments).
# allocate runs on a fresh copy of the table each time (it writes), free on the same copy.
ALLOCATE_RUNS = (
    (
        "free 0.0.0.0/0 --length 24 --limit 100",
        ["free", "0.0.0.0/0", "--length", "24", "--limit", "100"],
    ),
    (
        "allocate 0.0.0.0/0 --length 24 --count 100",
        ["allocate", "0.0.0.0/0", "--length", "24", "--count", "100"],
    ),
    ("tree", ["tree"]),
    ("tree --free", ["tree", "--free"]),
)
CALLERS = 24


def timed_allocate(database: Path, count: int) -> dict[str, float]:
    """One allocate in this process, with the times of its transaction: when it asked for the
    write lock, got it, and committed (time.time(), comparable across processes)."""
    from ipam.allocate import DEFAULT_TIMEOUT_SECONDS, Request, allocate, connect_read_write  # noqa: PLC0415
    from ipam.networks import network_key  # noqa: PLC0415

    times: dict[str, float] = {}

    class Timed:
        def __init__(self, connection: sqlite3.Connection) -> None:
            self.connection = connection

        def execute(self, sql: str, *parameters: object) -> sqlite3.Cursor:
            if sql == "BEGIN IMMEDIATE":
                times.setdefault("asked", time.time())
            cursor = self.connection.execute(sql, *parameters)  # type: ignore[arg-type]
            if sql in ("BEGIN IMMEDIATE", "COMMIT"):
                times["locked" if sql != "COMMIT" else "committed"] = time.time()
            return cursor

    connection = connect_read_write(database, DEFAULT_TIMEOUT_SECONDS)
    try:
        parent = network_key("0.0.0.0/0")
        assert isinstance(parent, int)
        allocate(Timed(connection), database, Request(parent, 24, count))  # type: ignore[arg-type]
    finally:
        connection.close()
    return times


def bench_allocate(database: Path, repeat: int) -> None:
    print(f"\n## allocate and tree --free on {database.name}", flush=True)
    copy = DATA_DIR / "allocate.db"
    best: dict[str, float] = {}
    for round_number in range(repeat):
        for name, arguments in ALLOCATE_RUNS:
            shutil.copyfile(database, copy)
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "ipam", *arguments, "--db", str(copy)],
                cwd=REPO_ROOT,
                stdout=subprocess.DEVNULL,
                check=True,
            )
            seconds = time.perf_counter() - started
            best[name] = min(best.get(name, seconds), seconds)
            print(f"  round {round_number + 1}, {name}: {seconds:.2f} s", flush=True)
    names = [name for name, _arguments in ALLOCATE_RUNS]
    print(f"  {names[1]}: {best[names[1]] / best[names[0]]:.2f}x {names[0]} (target: at most 1.5x)")
    print(f"  {names[3]}: {best[names[3]] / best[names[2]]:.2f}x {names[2]} (target: at most 1.5x)")
    holds = []
    for _round in range(repeat):  # in a fresh child, as the callers below
        shutil.copyfile(database, copy)
        child = [sys.executable, __file__, "--child", "allocate-timed", str(copy), "100"]
        times = json.loads(subprocess.run(child, stdout=subprocess.PIPE, check=True).stdout)
        holds.append(times["committed"] - times["locked"])
    print(
        f"  the write lock held by one allocate of 100 /24s: best {min(holds):.2f} s, "
        f"worst {max(holds):.2f} s"
    )
    shutil.copyfile(database, copy)
    started = time.time()
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", "allocate-timed", str(copy), "1"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(CALLERS)
    ]
    results = [json.loads(child.communicate()[0]) for child in children]
    if any(child.returncode for child in children):
        raise SystemExit("a concurrent allocate failed")
    total = max(result["committed"] for result in results) - started
    waits = [result["locked"] - result["asked"] for result in results]
    held = [result["committed"] - result["locked"] for result in results]
    with contextlib.closing(sqlite3.connect(copy)) as connection:
        blocks = connection.execute("SELECT count(DISTINCT prefix) FROM prefixes").fetchone()[0]
        rows = connection.execute("SELECT count(*) FROM prefixes").fetchone()[0]
    copy.unlink()
    print(
        f"  {CALLERS} callers at once, one /24 each: all done {total:.1f} s after the start, "
        f"the longest wait for the lock {max(waits):.1f} s, the lock held {min(held):.2f}-"
        f"{max(held):.2f} s each; {rows:,} rows after, {blocks:,} distinct prefixes"
    )


# -- The page: what writing output/prefixes.html costs a run, and how fast it is in a browser.

# --once without a page, --once writing it (none there), --once finding it current (a steady run).
PAGE_RUNS = ("no page", "page written", "page current")
# Where the searches look: an address of the first network, of the last, and in no network.
PAGE_QUERIES = ("first", "last", "0.0.0.1", "2001:db8:ffff::1")


def run_page(name: str, database: Path, output: Path) -> float:
    """One ``run_once`` as the service makes it, with or without the page beside the JSON."""
    from ipam.service import run_once  # noqa: PLC0415

    html = output.with_suffix(".html")
    if name == "page written":
        html.unlink(missing_ok=True)
    started = time.perf_counter()
    result = run_once(database, output, None if name == "no page" else html)
    seconds = time.perf_counter() - started
    expected = {"no page": "off", "page written": "yes", "page current": "no"}[name]
    if result.page != expected:
        raise SystemExit(f"{name}: the run's page was {result.page!r}, not {expected!r}")
    return seconds


def bench_page(database: Path, repeat: int) -> None:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        rows = connection.execute("SELECT count(*) FROM prefixes").fetchone()[0]
    print(f"\n## the page: {rows:,} rows ({database.name})", flush=True)
    output = DATA_DIR / "out-page.json"
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in PAGE_RUNS}
    for round_number in range(repeat):
        for name, name_runs in runs.items():
            name_runs.append(measure(name, database, output))
            seconds, mib = name_runs[-1]
            print(f"  round {round_number + 1}, {name}: {seconds:.2f} s, {mib:.0f} MiB", flush=True)
    page = output.with_suffix(".html")
    size = page.stat().st_size
    best = {name: (min(r[0] for r in name_runs), max(r[1] for r in name_runs))
            for name, name_runs in runs.items()}  # fmt: skip
    off_seconds, off_mib = best["no page"]
    print(f"  page: {size:,} bytes, {size / rows:.1f} bytes a row")
    for name in PAGE_RUNS[1:]:
        seconds, mib = best[name]
        print(
            f"  --once, {name}: {seconds:.2f} s, {seconds / off_seconds:.2f}x a --no-html run "
            f"({off_seconds:.2f} s); {mib:.0f} MiB, {mib / off_mib:.2f}x its peak RSS"
        )
    bench_page_in_chromium(page, repeat)
    output.unlink()
    page.unlink()


def bench_page_in_chromium(page: Path, repeat: int) -> None:
    """Time to the first rows, and the slowest search, best of ``repeat`` page loads."""
    from ipam.tests import browser  # noqa: PLC0415

    reason = browser.skip_reason()
    if reason:
        print(f"  in Chromium: skipped ({reason})")
        return
    first_rows: list[float] = []
    searches: list[float] = []
    with browser.chromium() as driver:
        for _ in range(repeat):
            started = time.perf_counter()
            browser.open_page(driver, page)
            first_rows.append(time.perf_counter() - started)
            slowest = 0.0
            for query in PAGE_QUERIES:
                milliseconds, _found = driver.execute_script(SEARCH_JS, query)
                slowest = max(slowest, milliseconds / 1000)
            searches.append(slowest)
    print(
        f"  in headless Chromium: first rows {min(first_rows):.2f} s after the request "
        f"(load, parse, derive, draw the roots); slowest of {len(PAGE_QUERIES)} searches "
        f"{min(searches) * 1000:.0f} ms (find, open the ancestors, select, scroll); "
        f"best of {repeat}"
    )


# A search as the page's form runs it, timed inside the page; "first"/"last": an address of the
# first or last network of the table (the two ends of the binary search).
SEARCH_JS = """
const rows = document.querySelectorAll('#tree [role=treeitem] .text');
let query = arguments[0];
if (query === 'first') query = rows[0].textContent.split('/')[0];
if (query === 'last') query = rows[rows.length - 1].textContent.split('/')[0];
const started = performance.now();
document.getElementById('query').value = query;
document.getElementById('find').requestSubmit();
return [performance.now() - started, document.getElementById('found').textContent];
"""


# -- Data sets, built once and cached as SQLite files.


def _prefix_text(version: int, network: int, length: int) -> str:
    if version == 4:
        return f"{socket.inet_ntop(socket.AF_INET, network.to_bytes(4, 'big'))}/{length}"
    return f"{socket.inet_ntop(socket.AF_INET6, network.to_bytes(16, 'big'))}/{length}"


def generate_prefixes(rows: int, seed: int) -> list[str]:
    """A realistic IPAM table: aggregates carved into sites, subnets and hosts, in random order.

    80% IPv4, 20% IPv6 (all in 2000::/3, so every text is canonical for every parser), about
    1% exact duplicate rows (more from hosts drawn twice), some unrelated top-level blocks; about
    one prefix in six is a container that others are carved from, the rest are leaves.
    """
    rng = random.Random(seed)
    bits = {4: 32, 6: 128}
    steps = {4: (1, 2, 4, 4, 8, 8), 6: (4, 8, 8, 16, 16)}
    host_length = {4: (32, 30, 31), 6: (128, 127, 126)}
    nodes: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
    texts: list[str] = []

    def add_root(version: int) -> None:
        if version == 4:
            length = rng.choice((8, 10, 12, 14, 16, 16, 18))
            network = rng.getrandbits(length) << (32 - length)
        else:
            length = rng.choice((20, 24, 28, 32, 32, 48))
            network = (0b001 << (length - 3) | rng.getrandbits(length - 3)) << (128 - length)
        nodes[version].append((network, length))
        texts.append(_prefix_text(version, network, length))

    for version, count in ((4, 300), (6, 100)):
        for _ in range(count):
            add_root(version)
    while len(texts) < rows:
        version = 4 if rng.random() < 0.8 else 6
        draw = rng.random()
        if draw < 0.01:
            texts.append(rng.choice(texts))
            continue
        if draw < 0.02:
            add_root(version)
            continue
        network, length = rng.choice(nodes[version])
        width = bits[version]
        if rng.random() < 0.15:
            child_length = rng.choice(host_length[version])
        else:
            child_length = length + rng.choice(steps[version])
        child_length = max(min(child_length, width), length + 1)
        if length >= width:
            continue
        offset = rng.getrandbits(child_length - length) << (width - child_length)
        child = network | offset
        texts.append(_prefix_text(version, child, child_length))
        if child_length < width - 2 and rng.random() < 0.15:  # most prefixes are leaves
            nodes[version].append((child, child_length))
    rng.shuffle(texts)
    return texts[:rows]


def routeviews_prefixes(directory: Path) -> list[str] | None:
    paths = [directory / name for name in ROUTEVIEWS_FILES]
    if not all(path.is_file() for path in paths):
        return None
    prefixes = []
    for path in paths:
        with gzip.open(path, "rt", encoding="ascii") as lines:
            for line in lines:
                address, length, _asn = line.rstrip("\n").split("\t")
                prefixes.append(f"{address}/{length}")
    return prefixes


def write_database(path: Path, prefixes: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    temp.unlink(missing_ok=True)
    with sqlite3.connect(temp) as connection:
        connection.execute("CREATE TABLE prefixes (id INTEGER PRIMARY KEY, prefix TEXT)")
        connection.executemany("INSERT INTO prefixes VALUES (?, ?)", enumerate(prefixes, start=1))
    connection.close()
    temp.replace(path)
    return path


# -- Measuring: one fresh child process per run.


def measure(name: str, database: Path, output: Path) -> tuple[float, float]:
    """(seconds of the path, peak RSS in MiB) of one run in a fresh interpreter."""
    output.unlink(missing_ok=True)
    completed = subprocess.run(
        [sys.executable, __file__, "--child", name, str(database), str(output)],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{name} failed with exit code {completed.returncode}")
    seconds, mib = completed.stdout.split()
    return float(seconds), float(mib)


def bench_data_set(label: str, database: Path, repeat: int, pipelines: list[str]) -> list[str]:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        rows = connection.execute("SELECT count(*) FROM prefixes").fetchone()[0]
    print(f"\n## {label}: {rows:,} rows ({database.name})", flush=True)
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in [*pipelines, *VIEWS]}
    reference = DATA_DIR / "out-ipam.json"
    # Rounds of one run per pipeline rather than all runs of one pipeline in a row: on a shared
    # machine the load drifts, and interleaving spreads the drift over every pipeline alike.
    for round_number in range(repeat):
        for name, name_runs in runs.items():
            if name in RUN_ONCE and round_number:
                continue
            output = DATA_DIR / f"out-{name.replace(' ', '-').replace('/', '-')}.json"
            name_runs.append(measure(name, database, output))
            seconds, mib = name_runs[-1]
            print(f"  round {round_number + 1}, {name}: {seconds:.2f} s, {mib:.0f} MiB", flush=True)
            if name in VIEWS:
                output.with_suffix(".last").unlink(missing_ok=True)
                output.rename(output.with_suffix(".last"))
            elif output != reference:
                if not filecmp.cmp(output, reference, shallow=False):
                    raise SystemExit(f"{name} does not give the same parents as ipam on {label}")
                output.unlink()
    reference.unlink()
    check_free_blocks(label)
    results = {
        name: (min(run[0] for run in name_runs), max(run[1] for run in name_runs))
        for name, name_runs in runs.items()
    }
    print("  all pipelines give identical parents (byte-identical JSON)")
    print("  free 0.0.0.0/0 gives netaddr's blocks (IPSet difference, iter_cidrs)")
    once_seconds, once_mib = results["ipam"]
    for name in VIEWS:
        seconds, mib = results.pop(name)
        what = name if name in RUN_ONCE else f"python -m ipam {name}"
        print(
            f"  {what}: {seconds:.2f} s, {seconds / once_seconds:.2f}x the time "
            f"of --once's path (ipam); {mib:.0f} MiB, {mib / once_mib:.2f}x its peak RSS"
        )
    return table_rows(label, rows, results, repeat)


def table_rows(
    label: str, rows: int, results: dict[str, tuple[float, float]], repeat: int
) -> list[str]:
    validated = results.get("validated pytricia")
    raw = results.get("raw pytricia")

    def ratio(value: float, anchor: tuple[float, float] | None, index: int) -> str:
        return f"{value / anchor[index]:.2f}x" if anchor else "n/a"

    lines = []
    for name, (seconds, mib) in results.items():
        runs = "1 run" if name in RUN_ONCE else f"best of {repeat}"
        lines.append(
            f"| {label} ({rows:,}) | {name} | {seconds:.2f} s ({runs}) | "
            f"{ratio(seconds, validated, 0)} | {ratio(seconds, raw, 0)} | {mib:.0f} MiB | "
            f"{ratio(mib, validated, 1)} | {ratio(mib, raw, 1)} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="generated rows (1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per pipeline, best kept (3)")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the generated table")
    parser.add_argument(
        "--routeviews-dir", type=Path, default=ROUTEVIEWS_DIR, help="where the pfx2as files are"
    )
    parser.add_argument("--no-routeviews", action="store_true", help="skip the RouteViews tables")
    parser.add_argument("--no-page", action="store_true", help="skip the page's figures")
    parser.add_argument(
        "--no-allocate", action="store_true", help="skip allocate's and tree --free's figures"
    )
    parser.add_argument(
        "--allocate-only", action="store_true", help="only allocate's and tree --free's figures"
    )
    parser.add_argument(
        "--pipelines",
        nargs="+",
        choices=list(PIPELINES),
        default=list(PIPELINES),
        help="which pipelines to run (ipam always runs first)",
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("PIPELINE", "DB", "OUTPUT"), help=argparse.SUPPRESS
    )
    arguments = parser.parse_args(argv)
    if arguments.child:
        name, database, output = arguments.child
        if name == "allocate-timed":
            print(json.dumps(timed_allocate(Path(database), int(output))))  # OUTPUT: the count
            return 0
        if name in VIEWS:
            seconds = run_view(name, Path(database), Path(output))
        elif name in PAGE_RUNS:
            seconds = run_page(name, Path(database), Path(output))
        else:
            seconds = run_pipeline(name, Path(database), Path(output))
        print(seconds, peak_rss_mib())
        return 0

    pipelines = ["ipam", *[name for name in arguments.pipelines if name != "ipam"]]
    table = [
        "| data set (rows) | pipeline | wall time | vs validated pytricia | vs raw pytricia "
        "| peak RSS | vs validated pytricia | vs raw pytricia |",
        "|---|---|---|---|---|---|---|---|",
    ]
    generated = DATA_DIR / f"generated-{arguments.rows}-{arguments.seed}.db"
    if not generated.exists():
        print(f"generating {arguments.rows:,} rows into {generated} ...", flush=True)
        write_database(generated, generate_prefixes(arguments.rows, arguments.seed))
    if arguments.allocate_only:
        bench_allocate(generated, arguments.repeat)
        return 0
    table += bench_data_set("generated", generated, arguments.repeat, pipelines)
    if not arguments.no_allocate:
        bench_allocate(generated, arguments.repeat)
    if not arguments.no_page:
        bench_page(generated, arguments.repeat)

    if arguments.no_routeviews:
        print("\nRouteViews skipped (--no-routeviews)")
    else:
        routeviews = DATA_DIR / "routeviews-20160202.db"
        prefixes = None if routeviews.exists() else routeviews_prefixes(arguments.routeviews_dir)
        if prefixes is not None:
            write_database(routeviews, prefixes)
        if routeviews.exists():
            table += bench_data_set("RouteViews", routeviews, arguments.repeat, pipelines)
            if not arguments.no_page:  # real tables' page: a cheaper run, so a higher ratio
                bench_page(routeviews, arguments.repeat)
        else:
            print(f"\nRouteViews skipped: no pfx2as files in {arguments.routeviews_dir}")

    print(f"\nPython {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
