"""The exit codes of ``leadgen``, in one place (docs/contract.md, section 6).

Scripts branch on them: 3 and 4 tell where a followed job stopped, 5 and 6 what became of a
command the worker answers."""

from typing import Final

OK: Final = 0  # done; a followed job completed (or is still running)
FAILURE: Final = 1  # leadgen could not do it: a service unreachable, an error it can explain
USAGE: Final = 2  # bad arguments
NOT_FOUND: Final = 2  # no such job or dead letter, as a bad argument would be
PAUSED: Final = 3  # the followed job is paused for an upgrade
FAILED: Final = 4  # the followed job failed or was cancelled
REFUSED: Final = 5  # the worker refused the command (the reason is on stderr)
NO_ANSWER: Final = 6  # no worker consumes the commands, or none answered in time
INTERRUPTED: Final = 130  # Ctrl-C, as shells expect
BROKEN_PIPE: Final = 141  # the reader left, as a process killed by SIGPIPE
