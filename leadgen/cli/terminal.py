"""Where a subcommand writes: ``out`` for what it was asked for, ``err`` for errors, and a
console for people that follows ``out`` unless that is a machine format."""

import argparse
import sys
from dataclasses import dataclass
from typing import TextIO

from rich.console import Console

from leadgen.cli.render.console import make_console


@dataclass(frozen=True)
class Terminal:
    """The streams of one subcommand."""

    out: TextIO
    err: TextIO
    console: Console

    @classmethod
    def of(
        cls, args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
    ) -> "Terminal":
        """The streams for ``args`` (stdout and stderr unless given).

        Progress is for people: beside a machine-readable ``--format`` it goes to stderr."""
        machine = getattr(args, "format", "table") != "table"
        out_stream = out or sys.stdout
        console_stream = sys.stderr if machine and out is None else out_stream
        return cls(out_stream, err or sys.stderr, make_console(console_stream))

    def error(self, message: str) -> None:
        """Tell the user in one line on ``err`` what went wrong."""
        print(f"leadgen: {message}", file=self.err)
