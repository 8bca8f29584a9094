"""`harness`: entry point; turns the harness's own errors into a message and exit status 2."""
from __future__ import annotations

import argparse
import errno
import sys

from harness import __version__
from harness.cli import (data_cmd, evaluate_cmd, main_job_cmd, oracle_cmd, proxy_cmd, reproduce_cmd, search_cmd,
                         shrink_cmd, train_cmd, zoo_cmd)
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
    zoo_cmd.register(groups)
    search_cmd.register(groups)
    shrink_cmd.register(groups)
    reproduce_cmd.register(groups)
    main_job_cmd.register(groups)
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
    except OSError as exc:
        message = environment_error(exc)
        if message is None:
            raise
        print(f"harness: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130


def environment_error(exc: OSError) -> str | None:
    """One line for the machine refusing a write (disk full, no permission, read-only), which the user fixes
    outside the harness; None for any other OSError (a bug, kept as a traceback)."""
    where = f" {exc.filename}" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"no space left on the device writing{where}; free some space or write elsewhere (--out), then run "
                f"the command again: finished files were not replaced and nothing half-written was kept")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"cannot write{where}: {exc.strerror}; choose a directory you can write to (--out) or fix its "
                f"permissions")
    return None


if __name__ == "__main__":
    sys.exit(main())
