"""Regenerate the two sample databases the services read: customers.db and prefixes.db.

The exercise ships ten customers and five sibling /24 prefixes. These databases keep the exercise's
schemas to the character and add the rows a reviewer needs to see every behaviour: two-line
addresses, commas, a double quote and non-ASCII text inside values, one NULL, and a prefix table
with real parents (nested IPv4 and IPv6 trees, a duplicate, host bits set, an orphan).

The content is fixed (a seeded generator, no clock, no network), so running this script again gives
databases with the same rows. Usage: ``python database/seed.py [--out-dir DIR]``.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

# The exercise's own CREATE TABLE statements, whitespace included, so `.schema` reads the same.
CUSTOMERS_SCHEMA = """CREATE TABLE customers (
        id INTEGER PRIMARY KEY,
        name TEXT,
        address TEXT,
        email TEXT,
        phone TEXT,
        company TEXT,
        job TEXT
    )"""

PREFIXES_SCHEMA = """CREATE TABLE prefixes (
        id INTEGER PRIMARY KEY,
        prefix TEXT
    )"""

CUSTOMER_COUNT = 30
SEED = 20240719

FIRST_NAMES = [
    "Patrick", "Stacy", "Denise", "José", "Zoë", "Björn", "Siobhán", "François", "Nguyễn Thị",
    "Łukasz", "Ana María", "Chloé", "Dmitri", "Aoife", "Renée", "Søren", "Mei", "Olu",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Michael", "Green", "Álvarez", "Müller", "Ødegaard", "O'Connor", "Lefèvre", "Lan",
    "Wiśniewski", "Peña", "Dubois", "Ivanov", "Byrne", "Zoltán", "Kjær", "Chen", "Adébáyọ̀",
]  # fmt: skip
STREETS = [
    "Norris Falls", "Moody Bypass Suite 219", "Lindsay Port Apt. 574", "Calle de Alcalá",
    "Hauptstraße", "Rue de la Paix", "Elm Street, Unit 4", "Harbour Road", "Birch Lane Apt. 12",
]  # fmt: skip
CITIES = [
    ("Sethland", "NY"), ("North Johnville", "KS"), ("Blakeport", "NV"), ("Lake Aimee", "OR"),
    ("East Kimberly", "TX"), ("Port Dana", "WA"), ("Saint-Étienne", "CA"), ("Millerview", "FL"),
]  # fmt: skip
COMPANIES = [
    "Carlson, Good and Aguilar", "Patterson, Barnes and Thompson", "Green-Mays", "Acme Corp",
    'The "Blue Door" Bakery', "Müller & Söhne GmbH", "Initech", "Lopez, Hale and Ortiz",
]  # fmt: skip
JOBS = [
    "Sales professional, IT", "Copy", "Colour technologist", "Network engineer",
    "Engineer, site", "Data scientist", "Teacher, secondary school", "Nurse, adult",
    'Chief "Happiness" Officer', "Pilot, airline",
]  # fmt: skip
PHONE_FORMATS = [
    "({a}){b}-{c}x{x}", "{a}-{b}-{c}x{x}", "+1-{a}-{b}-{c}x{x}", "{a}.{b}.{c}",
    "001-{a}-{b}-{c}", "+1-{a}-{b}-{c}", "{a}{b}{c}",
]  # fmt: skip
EMAIL_DOMAINS = ["example.com", "example.net", "example.org"]

# (id, prefix). Ids 1-5 are the exercise's own rows; the rest build trees so parents show up.
PREFIXES: list[tuple[int, str]] = [
    (1, "10.10.1.0/24"),
    (2, "10.10.2.0/24"),
    (3, "10.10.3.0/24"),
    (4, "10.10.4.0/24"),
    (5, "10.10.5.0/24"),
    (6, "10.10.0.0/16"),  # container of the five /24s
    (7, "10.0.0.0/8"),  # container of the /16
    (8, "10.10.1.0/25"),
    (9, "10.10.1.128/25"),
    (10, "10.10.1.0/26"),
    (11, "10.10.1.64/27"),  # inside the /25 but not the /26
    (12, "10.10.1.10/32"),  # a single host
    (13, "10.10.2.128/26"),
    (14, "10.10.2.0/24"),  # duplicate of id 2: same parent, never each other's parent
    (15, "10.10.4.130/25"),  # host bits set: the network is 10.10.4.128/25
    (16, "10.10.5.16/28"),
    (17, "10.10.5.16/30"),
    (18, "10.20.0.0/16"),
    (19, "192.168.0.0/16"),  # a second IPv4 tree
    (20, "192.168.10.0/24"),
    (21, "192.168.10.64/26"),
    (22, "192.168.10.70/31"),
    (23, "2001:db8::/32"),  # an IPv6 tree: /32 > /48 > /64 > /128
    (24, "2001:db8:10::/48"),
    (25, "2001:db8:10:1::/64"),
    (26, "2001:db8:10:1::1/128"),
    (27, "2001:db8:20::/48"),
    (28, "203.0.113.0/24"),  # an orphan: nothing in the table contains it
]


def customer_rows(count: int = CUSTOMER_COUNT, seed: int = SEED) -> list[tuple[object, ...]]:
    """Build the customer rows: the same list for the same arguments, on any machine."""
    rng = random.Random(seed)
    rows: list[tuple[object, ...]] = []
    for customer_id in range(1, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        city, state = rng.choice(CITIES)
        street = f"{rng.randint(10, 99999)} {rng.choice(STREETS)}"
        address = f"{street}\n{city}, {state} {rng.randint(10000, 99999)}"
        ascii_name = unicodedata.normalize("NFKD", f"{first[0]}{last}").lower()
        local = "".join(ch for ch in ascii_name if ch.isascii() and ch.isalnum())
        email = f"{local}{customer_id}@{rng.choice(EMAIL_DOMAINS)}"
        phone = rng.choice(PHONE_FORMATS).format(
            a=rng.randint(200, 999),
            b=rng.randint(200, 999),
            c=f"{rng.randint(0, 9999):04d}",
            x=rng.randint(1, 99999),
        )
        company, job = rng.choice(COMPANIES), rng.choice(JOBS)
        rows.append((customer_id, f"{first} {last}", address, email, phone, company, job))
    # One customer without a phone number: NULL must reach the CSV as an empty field.
    rows[6] = (*rows[6][:4], None, *rows[6][5:])
    return rows


def write_database(path: Path, schema: str, insert: str, rows: Iterable[Sequence[object]]) -> None:
    """Create the database in a temp file beside ``path`` and move it into place in one step."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.unlink(missing_ok=True)
    try:
        with sqlite3.connect(temp) as connection:
            connection.execute(schema)
            connection.executemany(insert, rows)
        connection.close()
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def seed(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_database(
        out_dir / "customers.db",
        CUSTOMERS_SCHEMA,
        "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?)",
        customer_rows(),
    )
    write_database(
        out_dir / "prefixes.db", PREFIXES_SCHEMA, "INSERT INTO prefixes VALUES (?, ?)", PREFIXES
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="where to write customers.db and prefixes.db (default: this script's folder)",
    )
    args = parser.parse_args(argv)
    seed(args.out_dir)
    print(f"wrote customers.db and prefixes.db in {args.out_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
