"""The error envelope: how an error crosses an actor boundary, as data ``{name, message}``.

The Python class is lost on the wire, exactly as a JavaScript prototype is lost across a
runtime boundary; receivers recognise errors by ``name`` and ``message`` only."""

from pydantic import BaseModel, ConfigDict, Field


class ErrorEnvelope(BaseModel):
    """An error as it travels between actors and is stored on jobs and leads."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(default="Error", max_length=200)
    message: str = Field(default="", max_length=4000)

    @classmethod
    def from_exception(cls, exc: BaseException) -> "ErrorEnvelope":
        """Build the envelope of ``exc``: its class name and its text."""
        return cls(name=type(exc).__name__, message=str(exc)[:4000])
