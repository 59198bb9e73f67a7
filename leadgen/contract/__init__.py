"""The public contract as machines read it: JSON Schemas of the public messages (schema.py),
the AsyncAPI document of the exchanges and queues (asyncapi.py), and the files both are
written to (files.py; ``leadgen schema --out docs``). docs/contract.md is the prose."""
