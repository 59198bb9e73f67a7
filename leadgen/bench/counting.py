"""A store that counts the calls made to it: the bench's measure of store round trips."""

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, cast

from leadgen.store.base import Store

# Calls that are the store's own lifecycle or the bench's bookkeeping, not the workflow's.
NOT_COUNTED = {"open", "close", "ping", "drop"}


class CountingStore:
    """Forwards every call to ``inner`` and counts the awaited ones by method name."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name.startswith("_") or name in NOT_COUNTED or not callable(attribute):
            return attribute

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return await cast(Callable[..., Awaitable[Any]], attribute)(*args, **kwargs)

        return counted

    @property
    def total(self) -> int:
        """Calls counted so far."""
        return sum(self.calls.values())

    def as_store(self) -> Store:
        """This object, typed as the port it stands in for."""
        return cast(Store, self)
