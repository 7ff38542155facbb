"""Route selection, first rule that applies: the X-Switchboard-Route header, the body's `model` equal to
a route name (or one of its `match.models`), the X-Switchboard-Task header, the default route.
"""

from __future__ import annotations

from typing import NamedTuple

from switchboard_proxy.config import RouteConfig, RouterConfig

from .request import RouteRequest


class RouteMatch(NamedTuple):
    """The chosen route and the rule that chose it (shown by `switchboard explain`)."""

    route: RouteConfig
    reason: str


class NoRoute(LookupError):
    """No route applies; `message` says what was looked for."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def match_route(config: RouterConfig, request: RouteRequest) -> RouteMatch:
    """The route for `request`, or raise NoRoute."""
    if request.route_header:
        route = config.routes.get(request.route_header)
        if route is None:
            raise NoRoute(f"route '{request.route_header}' (X-Switchboard-Route) does not exist")
        return RouteMatch(route, "X-Switchboard-Route header")
    if request.model and (name := config.model_routes.get(request.model)):
        rule = (
            "model equals the route name"
            if name == request.model
            else f"model '{request.model}' in match.models"
        )
        return RouteMatch(config.routes[name], rule)
    if request.task and (name := config.task_routes.get(request.task)):
        return RouteMatch(config.routes[name], f"task '{request.task}' in match.taskTypes")
    if config.default_route:
        return RouteMatch(config.routes[config.default_route], "default route")
    asked = ", ".join(
        part
        for part in (
            f"model '{request.model}'" if request.model else "",
            f"task '{request.task}'" if request.task else "",
        )
        if part
    )
    raise NoRoute(f"no route matches {asked or 'the request'} and there is no default route")
