"""The ``engram`` command line: ``train``, ``eval``, ``play``, ``record``, ``sweep`` and
``report``."""

from __future__ import annotations

import sys
from collections.abc import Callable

import tyro

from engram.config import TrainConfig
from engram.eval import EvalConfig, evaluate_run
from engram.play import PlayConfig, play
from engram.presets import DEFAULT_RUN, paper_config
from engram.record import RecordConfig, record
from engram.report.command import ReportConfig, report
from engram.run import CheckpointWriteError, NonFiniteLossError, train
from engram.sweep.command import SweepConfig, sweep


def _train(config: TrainConfig) -> None:
    try:
        train(config)
    except (NonFiniteLossError, CheckpointWriteError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        # The loop has written a checkpoint and said how to resume; no traceback.
        print("engram train: interrupted", file=sys.stderr)
        raise SystemExit(130) from None


#: command -> (config dataclass, function, one-line description)
COMMANDS: dict[str, tuple[type, Callable, str]] = {
    "train": (TrainConfig, _train, "train a PPO memory agent on an environment"),
    "eval": (EvalConfig, evaluate_run, "evaluate a trained run on unseen levels"),
    "play": (PlayConfig, play, "play an environment with the keyboard"),
    "record": (RecordConfig, record, "write episodes of a policy to an MP4 or GIF"),
    "sweep": (SweepConfig, sweep, "train a grid of runs from a spec (locally or on Ray)"),
    "report": (ReportConfig, report, "an HTML page: runs' curves, tables, the papers' numbers"),
}


def _flag_value(args: list[str], flag: str) -> str | None:
    """The value of ``--flag VALUE`` or ``--flag=VALUE`` in ``args`` (last one wins)."""
    value = None
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith(flag + "="):
            value = a.split("=", 1)[1]
    return value


def _defaults(command: str, args: list[str]):
    """``engram train --config FILE`` (or ``--config paper``): the file's (or the paper's)
    values become the defaults that the other command-line options override. Without
    ``--config``, ``--env`` and ``--resume`` (and with ``--config default``) they are
    :data:`engram.presets.DEFAULT_RUN`'s, so that ``engram train`` alone shows a memory
    learned on a CPU and ``engram train --agent none`` is its memory-less baseline."""
    if command != "train":
        return None
    path = _flag_value(args, "--config")
    if path == "paper":
        env = _flag_value(args, "--env") or TrainConfig.env
        return TrainConfig.from_dict(paper_config(env), source="config paper")
    alone = path is None and all(_flag_value(args, f) is None for f in ("--env", "--resume"))
    if path == "default" or alone:
        return TrainConfig.from_dict(DEFAULT_RUN, source="config default")
    return TrainConfig.from_file(path) if path else None


def _check_resume_alone(args: list[str]) -> None:
    """A resumed run keeps its saved configuration; other options would silently differ."""
    others = [a for a in args if a.startswith("--") and a.split("=")[0] != "--resume"]
    if others:
        raise ValueError(
            f"resume: the run continues with its saved config.json; other options "
            f"({', '.join(others)}) cannot be combined with --resume"
        )


def _usage() -> str:
    lines = ["usage: engram {" + ",".join(COMMANDS) + "} [options]", ""]
    lines += [f"  {name:<8}{desc}" for name, (_, _, desc) in COMMANDS.items()]
    lines += ["", "engram COMMAND --help lists a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``engram`` console script."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in COMMANDS:
        help_asked = bool(args) and args[0] in ("-h", "--help")
        if args and not help_asked:
            print(f"error: unknown command {args[0]!r}", file=sys.stderr)
        print(_usage(), file=sys.stdout if help_asked else sys.stderr)
        raise SystemExit(0 if help_asked else 2)
    config_cls, run, _ = COMMANDS[args[0]]
    try:
        default = _defaults(args[0], args[1:])
        config = tyro.cli(
            config_cls,
            args=args[1:],
            prog=f"engram {args[0]}",
            description=config_cls.__doc__,
            default=default,
        )
        if args[0] == "train" and config.resume is not None:
            _check_resume_alone(args[1:])
        run(config)
    except (ValueError, ImportError) as e:  # bad input or missing extra: one clear line
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
