"""CLI commands of the segmentation engine: ``segment`` and ``train``."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from segmenter.engine import segment
from segmenter.training import DEFAULT_PROJECT_LABELS, PROJECT_LABELS, SHARED


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("segment", help="segment one page dump (text or HTML) and print JSON")
    p.add_argument("file", help="path to the page, or - for stdin")
    p.add_argument("--blocks", action="store_true", help="include every block with its label")
    p.add_argument("--content-type", choices=["text", "html"], help="skip sniffing")
    p.set_defaults(func=run_segment)

    t = subparsers.add_parser("train", help="rebuild the model from ../shared/corpora/segmentation")
    t.add_argument("--shared", type=Path, default=SHARED, help="the shared data folder (default: %(default)s)")
    t.add_argument("--out", type=Path, default=Path("data"),
                   help="where the model (npz and skops), manifest and split go")
    # (no default here: the shipped seed lives with the estimators, which need scikit-learn)
    t.add_argument("--seed", type=int, help="random state of the classifier (default: the shipped model's)")
    t.add_argument("--project-labels", default=",".join(DEFAULT_PROJECT_LABELS), metavar="CORPORA",
                   help="comma-separated corpora whose pages this project labelled (data/*-labels.jsonl) "
                        "to train on: scrapinghub, l3s-gn1, or none (default: %(default)s)")
    t.set_defaults(func=run_train)


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


def run_train(args: argparse.Namespace) -> int:
    from segmenter.cli import CLIError
    from segmenter.training import train

    if not (args.shared / "corpora" / "segmentation").is_dir():
        raise CLIError(f"no corpora under {args.shared}: pass --shared PATH to the shared data folder")
    corpora = tuple(c for c in args.project_labels.split(",") if c and c != "none")
    unknown = sorted(set(corpora) - set(PROJECT_LABELS))
    if unknown:
        raise CLIError(f"--project-labels: unknown corpus {', '.join(unknown)} (choose from "
                       f"{', '.join(PROJECT_LABELS)}, or none)")
    manifest = train(args.out, args.shared, args.seed, corpora)
    json.dump(manifest["scores"], sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0
