"""The actors: one consumer per queue, one module per actor.

A phase actor is named after its phase (``generate_dossier.py`` runs phase
``generate_dossier``); beside them the audit actor (one dossier per message), the commands
actor, the supervisor (the workflow's decisions) and the completion actor (its ``onComplete``).
base.py holds what they share: decoding, the job fence, failure reports."""
