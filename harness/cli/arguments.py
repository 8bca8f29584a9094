"""Argument types of the command line: a value out of range is refused by argparse (exit 2, naming the option and
the value) before any work starts, never passed on to fail deep inside or to run as a silent default."""
from __future__ import annotations

import argparse
import json
import os
import shlex


def _number(kind, text: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None


def positive_int(text: str) -> int:
    value = _number(int, text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer (expected 1 or more)")
    return value


def nonnegative_int(text: str) -> int:
    value = _number(int, text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative (expected 0 or more)")
    return value


#: seeds are what numpy's generators accept: integers >= 0
seed_int = nonnegative_int


def positive_float(text: str) -> float:
    value = _number(float, text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive finite number")
    return value


def nonnegative_float(text: str) -> float:
    value = _number(float, text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number >= 0")
    return value


def share(text: str) -> float:
    """A share of something, in (0, 1]."""
    value = _number(float, text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share in (0, 1]")
    return value


def json_settings(text: str) -> dict:
    """A proxy's --settings: a JSON object (its keys and types are checked against the proxy's declared ones)."""
    from harness.errors import HarnessError

    try:
        value = json.loads(text)
    except ValueError as exc:
        raise HarnessError(f"--settings must be a JSON object, got {text!r} ({exc})") from None
    if not isinstance(value, dict):
        raise HarnessError(f"--settings must be a JSON object such as '{{\"parts\": \"cells\"}}', got {text!r}")
    return value


def command_line(argv: list[str]) -> str:
    """The command as typed, for the report it writes to name; absolute paths are made relative to the working
    directory (a report is committed and read elsewhere: it names no path of this machine)."""
    def portable(arg: str) -> str:
        flag, sep, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
        if os.path.isabs(value):
            value = os.path.relpath(value)
        return f"{flag}{sep}{value}"
    return "harness " + " ".join(shlex.quote(portable(a)) for a in argv)


def origin(args: argparse.Namespace) -> dict:
    """What a report records of the command that wrote it: the command line and the code hash of the command's
    module with everything it imports (and the built-in proxies, which load by name)."""
    from harness.proxies.registry import BUILTIN_MODULES
    from harness.provenance import code_hash

    return {"command": command_line(args.argv), "code_hash": code_hash(args.run.__module__, *BUILTIN_MODULES)}
