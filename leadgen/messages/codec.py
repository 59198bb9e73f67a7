"""The one encode/decode path for every message: pydantic models to UTF-8 JSON and back."""

from typing import TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from leadgen.errors import DecodeError

M = TypeVar("M")


def encode(message: BaseModel) -> bytes:
    """Serialise ``message`` to UTF-8 JSON bytes, omitting nothing."""
    return message.model_dump_json().encode()


def decode(adapter: TypeAdapter[M], body: bytes) -> M:
    """Decode ``body`` with ``adapter``; any failure raises one DecodeError keeping the body."""
    try:
        return adapter.validate_json(body)
    except ValidationError as exc:
        raise DecodeError(_reason(exc), body) from None
    except ValueError as exc:  # not UTF-8, for instance
        raise DecodeError(f"invalid body: {exc}", body) from None


def _reason(exc: ValidationError) -> str:
    """A one-line summary of a validation failure."""
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
