"""The actors: one consumer per queue, one module per phase."""
