"""Command line: ``python -m ipam`` (the daemon), ``python -m ipam --once``, or a view:
``python -m ipam tree`` (the prefix hierarchy, ``ipam/tree.py``), ``python -m ipam free`` (the
free space inside a prefix, ``ipam/free.py``); or ``python -m ipam allocate`` (take free blocks
and record them, ``ipam/allocate.py``: the one command that writes to the database)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from ipam import page
from ipam.service import run_once
from ipam.store import DEFAULT_DB
from servicekit import cli
from servicekit.paths import NamedPath

SERVICE = "ipam"
DEFAULT_OUTPUT = "output/prefixes.json"
DEFAULT_HTML = page.FILE_NAME  # beside the JSON file
HTML_OFF = "off"  # IPAM_HTML=off (or --html off): no page, as --no-html
DEFAULT_HEARTBEAT = "/tmp/ipam.heartbeat"
DEFAULT_INTERVAL_SECONDS = cli.DEFAULT_INTERVAL_SECONDS
# The commands: a word and the module whose main() takes the rest of the arguments. Imported
# only when asked for, so the daemon never loads them.
VIEWS = {"tree": "ipam.tree", "free": "ipam.free", "allocate": "ipam.allocate"}


def build_parser() -> argparse.ArgumentParser:
    parser = cli.service_parser(
        SERVICE,
        "Write every row of the prefixes table to OUTPUT as JSON, each with its closest parent "
        "prefix (the longest other network in the table that contains it). Without --once, runs "
        "at start and then every interval until SIGTERM/SIGINT. 'python -m ipam tree --help': "
        "the prefix hierarchy; 'python -m ipam free --help': the free space inside a prefix; "
        "'python -m ipam allocate --help': take free blocks and record them.",
        database=DEFAULT_DB,
        heartbeat=DEFAULT_HEARTBEAT,
        exits="0 ok, invalid rows included; 1 failed",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(cli.env_default("IPAM_OUTPUT", DEFAULT_OUTPUT)),
        help="JSON file to write; its directory must exist (env IPAM_OUTPUT, default %(default)s)",
    )
    parser.add_argument(
        "--html",
        type=Path,
        metavar="PATH",
        default=os.environ.get("IPAM_HTML") or None,
        help=f"the page to write, the tree in a browser (env IPAM_HTML, default {DEFAULT_HTML} "
        f"in the JSON file's directory; {HTML_OFF!r}: none)",
    )
    parser.add_argument(
        "--no-html", action="store_true", help=f"write no page (as IPAM_HTML={HTML_OFF})"
    )
    return parser


def html_path(args: argparse.Namespace) -> Path | None:
    """Where the page goes, or None for no page."""
    if args.no_html or str(args.html) == HTML_OFF:
        return None
    html: Path = args.html or args.output.with_name(DEFAULT_HTML)
    return html


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments and arguments[0] in VIEWS:
        view = importlib.import_module(VIEWS[arguments[0]])
        return int(view.main(arguments[1:]))
    args = build_parser().parse_args(arguments)
    html = html_path(args)
    run = partial(run_once, html=html)
    outputs = [NamedPath("--output", args.output)]
    if html is not None:
        outputs.append(NamedPath("--html", html))
    template = [NamedPath("the page's template", path) for path in page.template_files()]
    return cli.run_service(SERVICE, args, run, DEFAULT_HEARTBEAT, outputs=outputs, inputs=template)


if __name__ == "__main__":  # pragma: no cover - run as a subprocess by the tests
    sys.exit(main())
