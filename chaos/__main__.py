"""``python -m chaos``: run the chaos scenario against real workers and services, print the
figures (``--json`` for one JSON object) and exit 1 when a check failed, 2 when a service
is missing."""

import argparse
import asyncio
import random
import sys
from pathlib import Path

from chaos.config import ChaosConfig
from chaos.rabbit import ServiceUnavailable
from chaos.runner import run_chaos


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    defaults = ChaosConfig()
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--jobs", type=int, default=defaults.jobs, help="jobs to start")
    parser.add_argument("--seed", type=int, default=None, help="seed of the plan (random)")
    parser.add_argument(
        "--duration", type=float, default=defaults.duration, help="seconds of fault injection"
    )
    parser.add_argument(
        "--freeze-seconds",
        type=float,
        default=defaults.freeze_seconds,
        help="how long each store freeze lasts",
    )
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=defaults.settle_timeout,
        help="seconds to wait for every job to settle after the faults",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="keep logs here")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.duration <= 0 or args.freeze_seconds < 0:
        parser.error("--jobs must be >= 1, --duration > 0, --freeze-seconds >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run once; 0 when every check passed."""
    args = parse_args(argv)
    config = ChaosConfig(
        jobs=args.jobs,
        seed=args.seed if args.seed is not None else random.randrange(2**31),
        duration=args.duration,
        freeze_seconds=args.freeze_seconds,
        settle_timeout=args.settle_timeout,
        workdir=args.workdir,
    )
    try:
        figures = asyncio.run(run_chaos(config))
    except ServiceUnavailable as exc:
        print(f"chaos: {exc}", file=sys.stderr)
        return 2
    print(figures.to_json() if args.json else figures.render())
    return 0 if figures.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
