"""Commands other services publish to ``leadgen.commands`` (contract section 2)."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from leadgen.constants import FEATURES

Id = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:@\-]+$")]


class _Command(BaseModel):
    """Common configuration: frozen, unknown fields tolerated and ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)


class StartJob(_Command):
    """``leadgen.start.v1``: start a lead-generation job."""

    type: Literal["leadgen.start.v1"] = "leadgen.start.v1"
    customer_id: Id
    query: Annotated[str, Field(min_length=1, max_length=500)]
    job_id: Id | None = None
    location: Annotated[str, Field(max_length=200)] | None = None
    max_leads: Annotated[int, Field(ge=1, le=1000)] = 25
    max_dossiers: Annotated[int, Field(ge=0, le=1000)] = 10


class ResumeJob(_Command):
    """``leadgen.resume.v1``: resume a job paused for an upgrade."""

    type: Literal["leadgen.resume.v1"] = "leadgen.resume.v1"
    job_id: Id
    customer_id: Id


class CancelJob(_Command):
    """``leadgen.cancel.v1``: cancel a running or paused job."""

    type: Literal["leadgen.cancel.v1"] = "leadgen.cancel.v1"
    job_id: Id
    customer_id: Id
    reason: Annotated[str, Field(max_length=500)] | None = None


FeatureId = Literal["lead_discovery", "dossier_research"]
assert set(FeatureId.__args__) == set(FEATURES)  # type: ignore[attr-defined]


class GrantCredits(_Command):
    """``leadgen.credits.grant.v1``: top up a customer's balance, idempotent by ``grant_id``."""

    type: Literal["leadgen.credits.grant.v1"] = "leadgen.credits.grant.v1"
    customer_id: Id
    feature_id: FeatureId
    amount: Annotated[int, Field(gt=0, le=1_000_000, strict=True)]  # money: no coercion
    grant_id: Id
    auto_resume: bool = True


Command = Annotated[StartJob | ResumeJob | CancelJob | GrantCredits, Field(discriminator="type")]
COMMAND: TypeAdapter[Command] = TypeAdapter(Command)
