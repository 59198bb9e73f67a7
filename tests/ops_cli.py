"""The operator's subcommands (``schema``, ``dead``) parsed and run as ``leadgen`` runs them."""

import argparse
import io

from leadgen.cli.main import build_parser, settings_from
from leadgen.cli.ops import run_ops


def parse(*argv: str) -> argparse.Namespace:
    """``argv`` parsed by leadgen's own parser."""
    return build_parser().parse_args(argv)


async def run_cli(*argv: str) -> tuple[int | None, str, str]:
    """Run ``leadgen ARGV`` through ``run_ops``: exit code, stdout and stderr."""
    args = parse(*argv)
    out, err = io.StringIO(), io.StringIO()
    code = await run_ops(args, settings_from(args), out, err)
    return code, out.getvalue(), err.getvalue()
