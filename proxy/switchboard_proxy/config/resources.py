"""The three custom resources as users write them, and `Resources`, the set that `compile()` reads.

A resource is the usual Kubernetes envelope (apiVersion, kind, metadata, spec, status) around one of the
spec models. Metadata keeps only what compiling needs (name, namespace, generation, creation time); the
rest of what the API server adds is ignored. Status is written by the operator and never compiled.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from .endpoint_spec import ModelEndpointSpec
from .policy_spec import FallbackPolicySpec
from .route_spec import ModelRouteSpec
from .spec_base import MAX_NAME_LENGTH, NAME_PATTERN

GROUP = "switchboard.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

SpecT = TypeVar("SpecT", ModelEndpointSpec, FallbackPolicySpec, ModelRouteSpec)


class Metadata(BaseModel):
    """The part of `metadata` compiling needs; everything else the API server adds is ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, pattern=NAME_PATTERN)
    namespace: str = ""
    generation: int = 0
    creation_timestamp: datetime | None = Field(default=None, alias="creationTimestamp")
    uid: str = ""


class Resource(BaseModel, Generic[SpecT]):
    """Envelope shared by the three kinds."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    KIND: ClassVar[str] = ""
    PLURAL: ClassVar[str] = ""
    SHORT_NAME: ClassVar[str] = ""

    api_version: Literal["switchboard.dev/v1alpha1"] = Field(
        default="switchboard.dev/v1alpha1", alias="apiVersion"
    )
    kind: str
    metadata: Metadata
    spec: SpecT
    status: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.metadata.name


class ModelEndpoint(Resource[ModelEndpointSpec]):
    """One upstream model."""

    KIND: ClassVar[str] = "ModelEndpoint"
    PLURAL: ClassVar[str] = "modelendpoints"
    SHORT_NAME: ClassVar[str] = "me"
    kind: Literal["ModelEndpoint"] = "ModelEndpoint"


class FallbackPolicy(Resource[FallbackPolicySpec]):
    """How a route fails over."""

    KIND: ClassVar[str] = "FallbackPolicy"
    PLURAL: ClassVar[str] = "fallbackpolicies"
    SHORT_NAME: ClassVar[str] = "fbp"
    kind: Literal["FallbackPolicy"] = "FallbackPolicy"


class ModelRoute(Resource[ModelRouteSpec]):
    """Which requests go where."""

    KIND: ClassVar[str] = "ModelRoute"
    PLURAL: ClassVar[str] = "modelroutes"
    SHORT_NAME: ClassVar[str] = "mr"
    kind: Literal["ModelRoute"] = "ModelRoute"


KINDS: dict[str, type[ModelEndpoint] | type[FallbackPolicy] | type[ModelRoute]] = {
    cls.KIND: cls for cls in (ModelEndpoint, FallbackPolicy, ModelRoute)
}


class Resources(BaseModel):
    """Every resource of one namespace (or one local directory): the input of `compile()`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    namespace: str = ""
    endpoints: tuple[ModelEndpoint, ...] = ()
    policies: tuple[FallbackPolicy, ...] = ()
    routes: tuple[ModelRoute, ...] = ()

    @classmethod
    def of(
        cls, items: list[ModelEndpoint | FallbackPolicy | ModelRoute], *, namespace: str = ""
    ) -> Resources:
        """Sort a mixed list of resources by kind."""
        return cls(
            namespace=namespace,
            endpoints=tuple(r for r in items if isinstance(r, ModelEndpoint)),
            policies=tuple(r for r in items if isinstance(r, FallbackPolicy)),
            routes=tuple(r for r in items if isinstance(r, ModelRoute)),
        )
