"""The edge of the MongoDB adapter: PyMongo's connection and timeout errors become
``StoreUnavailable`` here and never reach the actors."""

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from pymongo.errors import ConnectionFailure, PyMongoError

from leadgen.errors import StoreUnavailable

P = ParamSpec("P")
R = TypeVar("R")


def translated(method: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Raise ``StoreUnavailable`` instead of PyMongo's connection and timeout errors."""

    @functools.wraps(method)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except ConnectionFailure as e:  # also NetworkTimeout, AutoReconnect, server selection
            raise StoreUnavailable(str(e)) from None
        except PyMongoError as e:
            if e.timeout:  # the client-side operation timeout: a frozen or overloaded server
                raise StoreUnavailable(f"timed out: {e}") from None
            raise

    return call
