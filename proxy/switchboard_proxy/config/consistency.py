"""`reference_problems(config)`: names in a compiled config that point nowhere.

pydantic checks a compiled config's shape, not its references. `compile()` never writes a config with a
dangling name, but a hand-edited or corrupted file can hold one, and a request must never be the first
to find out (as a KeyError in the planner); `parse_router_config` refuses such a config whole.
"""

from __future__ import annotations

from collections.abc import Mapping

from .model import RouterConfig
from .problems import ConfigProblem


def reference_problems(config: RouterConfig) -> list[ConfigProblem]:
    """Every dangling name of `config`, with the field that holds it."""
    endpoints, routes = config.endpoints, config.routes
    wanted: list[tuple[str, str, Mapping[str, object]]] = []  # (field path, name, where it must exist)
    for key, endpoint in endpoints.items():
        wanted.append((f"endpoints.{key}.name", endpoint.name, {key: endpoint}))
        if endpoint.replacement:
            wanted.append((f"endpoints.{key}.replacement", endpoint.replacement, endpoints))
    for key, route in routes.items():
        wanted.append((f"routes.{key}.name", route.name, {key: route}))
        for index, variant in enumerate(route.variants):
            where = f"routes.{key}.variants[{index}]"
            wanted += [(f"{where}.targets", t.endpoint, endpoints) for t in variant.targets]
            wanted += [(f"{where}.policy.chain", name, endpoints) for name in variant.policy.chain]
        if route.shadow:
            wanted.append((f"routes.{key}.shadow.endpoint", route.shadow.endpoint, endpoints))
    if config.default_route:
        wanted.append(("default_route", config.default_route, routes))
    wanted += [(f"task_routes.{task}", name, routes) for task, name in config.task_routes.items()]
    wanted += [(f"model_routes.{model}", name, routes) for model, name in config.model_routes.items()]
    problems = [
        ConfigProblem("", "", path, f"'{name}' does not match its entry", reason="RefNotFound")
        if path.endswith(".name")
        else ConfigProblem("", "", path, f"'{name}' does not exist", reason="RefNotFound")
        for path, name, known in wanted
        if name not in known
    ]
    problems += [
        ConfigProblem("", "", f"routes.{key}.variants", "a route needs at least one variant")
        for key, route in routes.items()
        if not route.variants
    ]
    return problems
