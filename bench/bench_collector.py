"""Benchmark the collector against the sqlite3 command-line dump of the same table.

Two data sets, each generated once and cached under bench/.data/ (git-ignored):

- ``exercise``: exercise-shaped, mostly Latin-script rows (two-line addresses, commas and quotes
  in values; about 150 bytes a row, so 1,000,000 rows is about 150 MB);
- ``multilingual``: Faker rows in six locales (Japanese, Chinese, German, French, Polish, US
  English): CJK and accented Latin text, one- and two-line addresses, commas, and quotes in some
  company names. Needs ``pip install faker`` (in the ``bench`` extra).

For each, it measures in the same run, best of --repeat, each run in its own process so its peak
memory (max RSS) is its own:

- the baseline: ``sqlite3 -header -csv DB "SELECT * FROM customers"`` into a file;
- ``sqlite-utils query DB "SELECT * FROM customers" --csv`` into a file (if installed);
- the collector's first run into an empty directory (customers.csv and the snapshot);
- a run with no change (same database, same outputs);
- a run after 1% new rows (half of them below the largest id), from the state a first run left.

Usage: ``python bench/bench_collector.py [--rows N] [--repeat K] [--data NAME ...]``. Ratios
are against the baseline measured in the same run, so they hold on any machine; small --rows is a
smoke test (process start-up dominates it).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "bench" / ".data"
SEED = 20240719
GAP = 200  # every 200th id is left out of the base table; the 1% run adds them back

SCHEMA = """CREATE TABLE customers (
        id INTEGER PRIMARY KEY,
        name TEXT,
        address TEXT,
        email TEXT,
        phone TEXT,
        company TEXT,
        job TEXT
    )"""
FIRST = ["Patrick", "Stacy", "Denise", "José", "Zoë", "Michael", "Jennifer", "Amanda", "Łukasz"]
LAST = ["Smith", "Michael", "Green", "Álvarez", "Müller", "O'Connor", "Johnson", "Garcia", "Davis"]
STREETS = ["Norris Falls", "Moody Bypass Suite 219", "Lindsay Port Apt. 574", "Harbour Road"]
CITIES = ["Sethland, NY", "North Johnville, KS", "Blakeport, NV", "Lake Aimee, OR", "Port Dana, WA"]
COMPANIES = [
    "Carlson, Good and Aguilar", "Patterson, Barnes and Thompson", "Green-Mays", "Acme Corp",
    'The "Blue Door" Bakery', "Initech", "Lopez, Hale and Ortiz", "Mays-Hernandez",
]  # fmt: skip
JOBS = [
    "Sales professional, IT", "Copy", "Colour technologist", "Network engineer",
    "Engineer, site", "Teacher, secondary school", 'Chief "Happiness" Officer', "Data scientist",
]  # fmt: skip

Row = tuple[int, str, str, str, str, str, str]


def customer(rng: random.Random, customer_id: int) -> Row:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    street = f"{rng.randint(10, 99999)} {rng.choice(STREETS)}"
    address = f"{street}\n{rng.choice(CITIES)} {rng.randint(10000, 99999)}"
    email = f"{first[0].lower()}{last.lower().replace(chr(39), '')}{customer_id}@example.net"
    phone = f"({rng.randint(200, 999)}){rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
    phone += f"x{rng.randint(1, 99999)}"
    company, job = rng.choice(COMPANIES), rng.choice(JOBS)
    return (customer_id, f"{first} {last}", address, email, phone, company, job)


LOCALES = ["ja_JP", "zh_CN", "de_DE", "fr_FR", "pl_PL", "en_US"]


def multilingual_maker(seed: int) -> Callable[[int], Row]:
    """Faker rows in several locales; every 20th company name gets a quoted word."""
    from faker import Faker  # noqa: PLC0415 (only this data set needs it)

    fakers = [Faker(locale) for locale in LOCALES]
    for number, faker in enumerate(fakers):
        faker.seed_instance(seed + number)
    rng = random.Random(seed)

    def make(customer_id: int) -> Row:
        faker = rng.choice(fakers)
        company = faker.company()
        if customer_id % 20 == 0:
            company = f'{company} "{faker.last_name()}"'
        email = f"{customer_id}.{faker.email()}"
        name, address, phone, job = faker.name(), faker.address(), faker.phone_number(), faker.job()
        return (customer_id, name, address, email, phone, company, job)

    return make


def exercise_maker(seed: int) -> Callable[[int], Row]:
    rng = random.Random(seed)
    return lambda customer_id: customer(rng, customer_id)


DATA_SETS = {"exercise": exercise_maker, "multilingual": multilingual_maker}


def base_ids(rows: int) -> Iterator[int]:
    """``rows`` ids from 1 up, skipping every GAP-th one (the holes the 1% run fills)."""
    customer_id = 0
    for _ in range(rows):
        customer_id += 1
        if customer_id % GAP == 0:
            customer_id += 1
        yield customer_id


def write_database(path: Path, rows: Iterator[Row]) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.unlink(missing_ok=True)
    with sqlite3.connect(temp) as connection:
        connection.execute(SCHEMA)
        connection.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    connection.close()
    os.replace(temp, path)


def databases(data: str, rows: int) -> tuple[Path, Path]:
    """The base table and a copy with 1% more rows (half in the holes, half above the largest)."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    name = "customers" if data == "exercise" else f"customers-{data}"
    base = DATA_DIR / f"{name}-{rows}.db"
    plus = DATA_DIR / f"{name}-{rows}-plus1pct.db"
    if not base.exists():
        print(f"generating {base.name} ({rows} rows, cached for later runs)...", file=sys.stderr)
        make = DATA_SETS[data](SEED)
        write_database(base, (make(i) for i in base_ids(rows)))
    if not plus.exists():
        make = DATA_SETS[data](SEED + 1)
        largest = max(base_ids(rows)) if rows else 0
        extra = max(rows // 100, 2)
        holes = list(range(GAP, largest, GAP))[: extra // 2]
        above = range(largest + 1, largest + 1 + extra - len(holes))
        temp = plus.with_name(f".{plus.name}.tmp")
        shutil.copyfile(base, temp)
        with sqlite3.connect(temp) as connection:
            connection.executemany(
                "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?)",
                [make(i) for i in [*holes, *above]],
            )
        connection.close()
        os.replace(temp, plus)
    return base, plus


@dataclass
class Measure:
    label: str
    target: float | None  # highest allowed ratio to the baseline
    seconds: list[float]
    peak_kib: int = 0

    @property
    def best(self) -> float:
        return min(self.seconds)


def timed(command: Sequence[str], stdout: Path | None = None) -> tuple[float, int]:
    """Wall time and max RSS (KiB) of one command run in its own process."""
    with open(stdout or os.devnull, "wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=sink, stderr=subprocess.PIPE)
        assert process.stderr is not None
        errors = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{errors.decode(errors='replace')}")
    return elapsed, usage.ru_maxrss


def collector(db: Path, out: Path, heartbeat: Path) -> list[str]:
    options = ["--db", str(db), "--output-dir", str(out), "--heartbeat", str(heartbeat)]
    return [sys.executable, "-m", "collector", "--once", *options]


def fresh_directory(scratch: Path, name: str) -> Path:
    directory = scratch / name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    return directory


def run_benchmark(data: str, rows: int, repeat: int) -> list[Measure]:
    base, plus = databases(data, rows)
    query = "SELECT * FROM customers"
    sqlite_utils = Path(sys.executable).with_name("sqlite-utils")
    measures = {
        "dump": Measure("sqlite3 -header -csv (baseline)", None, []),
        "utils": Measure("sqlite-utils query --csv", None, []),
        "first": Measure("collector, first run (both CSVs)", 2.5, []),
        "same": Measure("collector, no change", 0.2, []),
        "plus": Measure("collector, 1% new rows", 2.5, []),
    }
    with tempfile.TemporaryDirectory(dir=DATA_DIR, prefix=".scratch-") as scratch_name:
        scratch = Path(scratch_name)
        heartbeat = scratch / "heartbeat"

        def record(key: str, command: Sequence[str], stdout: Path | None = None) -> None:
            seconds, peak = timed(command, stdout)
            measures[key].seconds.append(seconds)
            measures[key].peak_kib = max(measures[key].peak_kib, peak)

        for _ in range(repeat):
            record("dump", ["sqlite3", "-header", "-csv", str(base), query], scratch / "dump.csv")
            if sqlite_utils.exists():
                command = [str(sqlite_utils), "query", str(base), query, "--csv"]
                record("utils", command, scratch / "utils.csv")
            out = fresh_directory(scratch, "first")
            record("first", collector(base, out, heartbeat))
            record("same", collector(base, out, heartbeat))
            out = fresh_directory(scratch, "plus")
            timed(collector(base, out, heartbeat))  # the state a first run leaves, not measured
            record("plus", collector(plus, out, heartbeat))
        print(f"{data}: {rows} rows, {base.stat().st_size / 1e6:.0f} MB database, ", end="")
        print(f"{(scratch / 'first' / 'customers.csv').stat().st_size / 1e6:.0f} MB CSV")
    return [measure for measure in measures.values() if measure.seconds]


def report(measures: list[Measure], repeat: int) -> str:
    baseline = measures[0].best
    lines = [
        f"| run | best of {repeat} (s) | ratio to sqlite3 dump | target | peak RSS (MB) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for measure in measures:
        ratio = measure.best / baseline
        target = "" if measure.target is None else f"<= {measure.target:.1f}x"
        verdict = "" if measure.target is None else (" ok" if ratio <= measure.target else " MISS")
        lines.append(
            f"| {measure.label} | {measure.best:.2f} | {ratio:.2f}x | {target}{verdict} | "
            f"{measure.peak_kib / 1024:.0f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="table size (default 1e6)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each kind, best kept")
    parser.add_argument(
        "--data", nargs="+", choices=sorted(DATA_SETS), default=sorted(DATA_SETS), help="data sets"
    )
    args = parser.parse_args(argv)
    if shutil.which("sqlite3") is None:
        parser.error("the sqlite3 command-line tool (the baseline) is not installed")
    for data in args.data:
        print(report(run_benchmark(data, args.rows, args.repeat), args.repeat), end="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
