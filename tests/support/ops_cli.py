"""The operator's subcommands (``schema``, ``dead``) parsed and run as ``leadgen`` runs them."""

import argparse
import io

from leadgen.cli.main import run_command, settings_from
from leadgen.cli.parser import build_parser


def parse(*argv: str) -> argparse.Namespace:
    """``argv`` parsed by leadgen's own parser."""
    return build_parser().parse_args(argv)


async def run_cli(*argv: str) -> tuple[int, str, str]:
    """Run ``leadgen ARGV`` through its handler: exit code, stdout and stderr."""
    args = parse(*argv)
    out, err = io.StringIO(), io.StringIO()
    code = await run_command(args, settings_from(args), out, err)
    return code, out.getvalue(), err.getvalue()
