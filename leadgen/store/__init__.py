"""The store port and its two implementations: MongoDB and in-process memory."""

from leadgen.store.base import Guard, Store
from leadgen.store.models import Job, Lead

__all__ = ["Guard", "Job", "Lead", "Store"]
