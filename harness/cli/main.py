"""`harness`: entry point; turns the harness's own errors into a message and exit status 2."""
from __future__ import annotations

import argparse
import sys

from harness import __version__
from harness.cli import data_cmd, evaluate_cmd, oracle_cmd, proxy_cmd, reproduce_cmd, search_cmd, shrink_cmd, train_cmd
from harness.errors import HarnessError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness", description="How well does a cheap signal rank NAS-Bench-201 architectures?")
    parser.add_argument("--version", action="version", version=f"nb201-harness {__version__}")
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    oracle_cmd.register(groups)
    data_cmd.register(groups)
    evaluate_cmd.register(groups)
    train_cmd.register(groups)
    proxy_cmd.register(groups)
    search_cmd.register(groups)
    shrink_cmd.register(groups)
    reproduce_cmd.register(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv  # for the reports to name the command that wrote them (`arguments.origin`)
    try:
        return args.run(args) or 0
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
