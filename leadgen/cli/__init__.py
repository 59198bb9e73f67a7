"""The ``leadgen`` command line (docs/contract.md, section 6).

main.py is the console script; parser.py holds every subcommand's arguments and sets the
handler that runs it; options.py the options they share; exit_codes.py the exit codes. One
module per group of subcommands: jobs.py (start, resume, cancel), reads.py (status, leads),
credits.py, run.py (the embedded run), ops.py (schema, dead letters), worker.py (worker,
bench). answers.py waits for the worker's answer to a command, follow.py shows a job until it
settles, and render/ draws what people read."""
