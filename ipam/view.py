"""What every ipam view (``python -m ipam tree``, ``python -m ipam free``) shares: the ``--db``
flag, the argument types, the writing of lines, and the exit statuses.

A view reads the database read-only and writes only to stdout. Exit status: 0 ok; 1 the
database cannot be read, or stdout cannot be written (a full disk, a closed stdout): one line on
stderr; 2 bad arguments (argparse); 130 Ctrl-C, with no traceback; 141 the reader closed the
output early (``| head``): no traceback, and the status a process killed by SIGPIPE has in a
shell, as ``seq`` or ``cat`` would give. A view may add its own (``free``: 3, nothing free).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from itertools import islice
from pathlib import Path
from typing import TextIO

from ipam.networks import IPV6_BIT, LENGTH_MASK, network_key, network_text
from ipam.store import DEFAULT_DB
from servicekit.cli import decimal_digits, env_default
from servicekit.runs import RunError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as for --once
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE

_LINES_PER_WRITE = 1000


def view_parser(
    command: str,
    description: str,
    parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser,
) -> argparse.ArgumentParser:
    """A parser for ``python -m ipam COMMAND`` with the ``--db`` flag every view has."""
    parser = parser_class(prog=f"python -m ipam {command}", description=description)
    parser.add_argument(
        "--db",
        type=Path,
        default=Path(env_default("IPAM_DB", DEFAULT_DB)),
        help="SQLite database with the prefixes table (env IPAM_DB, default %(default)s)",
    )
    return parser


def network(text: str) -> int:
    """The argparse type of a network argument: its key, by the table's own validity rule (host
    bits allowed, netmask form, a bare address is a /32 or /128)."""
    key = network_key(text)
    if isinstance(key, str):
        raise argparse.ArgumentTypeError(key)
    return key


def whole_number(text: str) -> int:
    """The argparse type of a count such as ``--depth`` or ``--limit``: a whole number from 1, in
    plain decimal digits (``servicekit.cli.decimal_digits``)."""
    value = decimal_digits(text)
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1, not {text!r}")
    return value


def prefix_length(text: str) -> int:
    """The argparse type of ``--length``, in plain decimal digits; ``check_length`` checks its
    range once the network it applies to is known."""
    value = decimal_digits(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"must be a prefix length, not {text!r}")
    return value


def check_length(parser: argparse.ArgumentParser, prefix: int, length: int) -> None:
    """Exit 2 unless ``length`` is from the ``prefix`` key's own length to 32 (IPv6: 128)."""
    shortest = prefix & LENGTH_MASK
    longest = 128 if prefix & IPV6_BIT else 32
    if not shortest <= length <= longest:
        parser.error(
            f"argument --length: must be from {shortest} to {longest} for "
            f"{network_text(prefix)}, not {length}"
        )


_BELOW_ONE = 1 - 2**-53  # the largest float below 1


def share(part: int, whole: int) -> float:
    """``part / whole`` as the nearest float, but never 1.0 for what is not all of it.

    (2**128 - 1) / 2**128 is nearer 1.0 than any other float: the float just below 1 says
    "not all" instead. Nothing above 0 rounds to 0.0: the smallest share, 2**-128, is a float.
    """
    fraction = part / whole  # int / int: correctly rounded, however large the ints
    return _BELOW_ONE if fraction == 1 and part < whole else fraction


def percent(part: int, whole: int) -> str:
    """``75%``, ``0.8%``, ``100%``: ``part`` of ``whole`` to one decimal, dropped when it is 0,
    rounded half to even from the exact integers, never through a float (which makes 100% of
    all but one address of ::/0). Never 0 or 100 for what is not exactly that: ``<0.1%``,
    ``>99.9%``."""
    if not part:
        return "0%"
    if part == whole:
        return "100%"
    tenths, rest = divmod(part * 1000, whole)
    if 2 * rest > whole or (2 * rest == whole and tenths % 2):
        tenths += 1
    if not tenths:
        return "<0.1%"
    if tenths == 1000:
        return ">99.9%"
    units, tenth = divmod(tenths, 10)
    return f"{units}.{tenth}%" if tenth else f"{units}%"


def write_lines(lines: Iterable[str], stream: TextIO) -> None:
    """Write the lines as they come, a batch at a time."""
    lines = iter(lines)
    while batch := list(islice(lines, _LINES_PER_WRITE)):
        text = "\n".join(batch) + "\n"
        try:
            stream.write(text)
        except UnicodeEncodeError:  # a stored value the encoding lacks: escape it, as repr does
            encoding = stream.encoding  # a stream that encodes knows its encoding
            stream.write(text.encode(encoding, "backslashreplace").decode(encoding))


def run_view(prog: str, show: Callable[[TextIO], int]) -> int:
    """``show(stdout)``'s exit status, or the one every view gives when it is cut short.

    ``show`` reads the database (a RunError when it cannot) and writes to the stream; any
    OSError it lets out is the stream's, since reading raises RunError.
    """
    stdout = sys.stdout
    if stdout is None:  # started with stdout closed (>&-): nowhere to write, and fd 1 is free
        return _failed(prog, "cannot write the output: stdout is closed")
    try:
        code = show(stdout)
        stdout.flush()
    except KeyboardInterrupt:  # Ctrl-C: the view writes no file, so there is nothing to say
        return EXIT_INTERRUPTED
    except RunError as error:
        return _failed(prog, str(error))
    except BrokenPipeError:  # the reader is gone (| head): quietly
        _discard(stdout)
        return EXIT_BROKEN_PIPE
    except OSError as error:  # a full disk, a stdout closed for writing
        _discard(stdout)
        return _failed(prog, f"cannot write the output: {error.strerror or error}")
    return code


def _failed(prog: str, message: str) -> int:
    print(f"{prog}: {message}", file=sys.stderr)
    return EXIT_FAILED


def _discard(stdout: TextIO) -> None:
    """What is still buffered would fail again at exit, with "Exception ignored" on stderr:
    send it to /dev/null instead."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, stdout.fileno())
    finally:
        os.close(devnull)
