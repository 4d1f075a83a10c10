"""Command line: ``segmenter COMMAND ...``. Each command lives with the code it drives and
registers itself here through ``register(subparsers)``."""
from __future__ import annotations

import argparse
import importlib
import sys

# module -> it defines register(subparsers); each registered parser sets ``func(args) -> int``.
COMMAND_MODULES = (
    "segmenter.commands",      # segment, train
    "segmenter.dedup.cli",     # dedup
    "segmenter.batch.cli",     # run, spark
    "api.serve",               # serve
)


class CLIError(Exception):
    """A user error: printed as one line to stderr, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segmenter",
        description="Split news page dumps into the main article and its teasers; merge duplicate stories.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CLIError as exc:
        print(f"segmenter {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `segmenter ... | head` is normal use, not an error
        return 0
    except KeyboardInterrupt:
        return 130
