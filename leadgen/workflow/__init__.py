"""The workflow core: what commands and phase outcomes do to a job, its credits and its
messages.

Every change of a job goes through one guarded write (jobs.py: ``transition``/``commit``) that
stores the messages it causes in the job's outbox (outbox.py) in the same write. Around it:
the phases in order (phases.py), the billing pause (billing.py), start, cancel and grant
(lifecycle.py), resume (resume.py), and what a command's sender hears back (verdict.py). The
actors call into this package; it calls down into the store and the broker ports, never up.
``Services`` (services.py) is what every one of those functions is handed."""
