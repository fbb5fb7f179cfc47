"""The ``engram`` command line: ``engram train``."""

from __future__ import annotations

import sys

import tyro

from engram.train import NonFiniteLossError, TrainConfig, train


def _train(config: TrainConfig) -> None:
    """Train a PPO memory agent on an environment and evaluate it."""
    try:
        train(config)
    except NonFiniteLossError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``engram`` console script."""
    commands = {"train": _train}
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in commands:
        config = tyro.cli(
            TrainConfig, args=args[1:], prog=f"engram {args[0]}", description=TrainConfig.__doc__
        )
        try:
            commands[args[0]](config)
        except ValueError as e:  # bad configuration: one clear line, no traceback
            print(f"error: {e}", file=sys.stderr)
            raise SystemExit(2) from None
        return
    print(
        "usage: engram {train} [options]   (engram train --help for the options)", file=sys.stderr
    )
    raise SystemExit(0 if args and args[0] in ("-h", "--help") else 2)


if __name__ == "__main__":
    main()
