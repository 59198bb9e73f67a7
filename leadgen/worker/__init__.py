"""The worker process: the actors on their queues, run with retries and graceful shutdown.

process.py builds the worker (``Worker``, ``run_worker``); runner.py runs one actor's handler
per message (decode, bind the log context, retry through an outage, dead-letter what can never
be handled); maintenance.py re-drives jobs that stopped moving and relays outboxes left behind;
health.py serves ``/healthz``, ``/readyz`` and ``/metrics``; backends.py connects RabbitMQ and
MongoDB as configured, for the worker and the command line alike."""
