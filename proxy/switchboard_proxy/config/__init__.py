"""The config contract between control plane and data plane: resources, `compile()`, `RouterConfig`.

Imports only pydantic, PyYAML and the standard library, so the sidecar runs from files on a laptop and
the operator, the CLI and local mode all compile with the same code.
"""

from .compiling import Compilation, compile, compile_leniently, content_version
from .loading import LoadedResources, load_resources, load_router_config, parse_resource, parse_router_config
from .model import (
    DEFAULT_VARIANT,
    EndpointConfig,
    PolicyConfig,
    RouteConfig,
    RouterConfig,
    TargetConfig,
    VariantConfig,
)
from .problems import ConfigError, ConfigProblem
from .resources import (
    API_VERSION,
    GROUP,
    KINDS,
    VERSION,
    FallbackPolicy,
    ModelEndpoint,
    ModelRoute,
    Resources,
)

__all__ = [
    "API_VERSION",
    "DEFAULT_VARIANT",
    "GROUP",
    "KINDS",
    "VERSION",
    "Compilation",
    "ConfigError",
    "ConfigProblem",
    "EndpointConfig",
    "FallbackPolicy",
    "LoadedResources",
    "ModelEndpoint",
    "ModelRoute",
    "PolicyConfig",
    "Resources",
    "RouteConfig",
    "RouterConfig",
    "TargetConfig",
    "VariantConfig",
    "compile",
    "compile_leniently",
    "content_version",
    "load_resources",
    "load_router_config",
    "parse_resource",
    "parse_router_config",
]
