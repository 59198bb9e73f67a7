"""``leadgen bench``: leadgen's cost per message against a plain aio-pika chain on the same
broker, measured in one invocation with the two interleaved round by round."""

# Leads per job of the scaling rows: the cost per dossier should not grow with them.
SIZES = (10, 100, 1000)
