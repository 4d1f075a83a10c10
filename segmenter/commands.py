"""CLI commands of the segmentation engine: ``segment`` and ``train``."""
from __future__ import annotations

import argparse
import json
import sys

from segmenter.engine import segment


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("segment", help="segment one page dump (text or HTML) and print JSON")
    p.add_argument("file", help="path to the page, or - for stdin")
    p.add_argument("--blocks", action="store_true", help="include every block with its label")
    p.add_argument("--content-type", choices=["text", "html"], help="skip sniffing")
    p.set_defaults(func=run_segment)


def run_segment(args: argparse.Namespace) -> int:
    from segmenter.cli import CLIError

    try:
        data = sys.stdin.buffer.read() if args.file == "-" else open(args.file, "rb").read()
    except OSError as exc:
        raise CLIError(f"cannot read {args.file}: {exc.strerror}") from exc
    result = segment(data, args.content_type)
    json.dump(result.to_dict(include_blocks=args.blocks), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0
