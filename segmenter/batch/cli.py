"""CLI registration for this part (filled in by its issue)."""
import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Nothing registered yet."""
