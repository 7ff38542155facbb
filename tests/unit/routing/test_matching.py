"""match_route: header > body model (route name or match.models) > task header > default route > NoRoute."""

from __future__ import annotations

import pytest

from support.builders import compile_config, endpoint, route
from switchboard_proxy.config import RouterConfig
from switchboard_proxy.routing.matching import NoRoute, RouteMatch, match_route
from switchboard_proxy.routing.request import RouteRequest


def _config(*, with_default: bool) -> RouterConfig:
    pool = [{"endpoint": "e"}]
    return compile_config(
        endpoint("e"),
        route("chat", match={"taskTypes": ["chat"]}, default=with_default, targets=pool),
        route(
            "code",
            match={"taskTypes": ["completion", "tab"], "models": ["gpt-4o-mini", "chat-old"]},
            targets=pool,
        ),
        route("review", match={"taskTypes": ["review"]}, targets=pool),
    )


WITH_DEFAULT = _config(with_default=True)
WITHOUT_DEFAULT = _config(with_default=False)


@pytest.mark.parametrize(
    ("header", "model", "task", "route_name", "reason"),
    [
        pytest.param(
            "review", "code", "completion", "review", "X-Switchboard-Route header", id="header-beats-all"
        ),
        pytest.param("chat", "", "", "chat", "X-Switchboard-Route header", id="header-alone"),
        pytest.param("", "code", "review", "code", "model equals the route name", id="route-name-beats-task"),
        pytest.param(
            "",
            "gpt-4o-mini",
            "review",
            "code",
            "model 'gpt-4o-mini' in match.models",
            id="match-models-beats-task",
        ),
        pytest.param("", "chat-old", "", "code", "model 'chat-old' in match.models", id="match-models-alone"),
        pytest.param("", "", "tab", "code", "task 'tab' in match.taskTypes", id="task"),
        pytest.param(
            "", "unknown-model", "review", "review", "task 'review' in match.taskTypes", id="model-miss-task"
        ),
        pytest.param("", "unknown-model", "", "chat", "default route", id="model-miss-default"),
        pytest.param("", "", "unknown-task", "chat", "default route", id="task-miss-default"),
        pytest.param("", "", "", "chat", "default route", id="nothing-default"),
        pytest.param("", "CODE", "", "chat", "default route", id="model-match-is-case-sensitive"),
        pytest.param("", "", "Review", "chat", "default route", id="task-match-is-case-sensitive"),
    ],
)
def test_selection_order(header: str, model: str, task: str, route_name: str, reason: str) -> None:
    match = match_route(WITH_DEFAULT, RouteRequest(route_header=header, model=model, task=task))
    assert match == RouteMatch(WITH_DEFAULT.routes[route_name], reason)


@pytest.mark.parametrize("config", [WITH_DEFAULT, WITHOUT_DEFAULT], ids=["with-default", "without-default"])
def test_unknown_route_header_is_no_route_even_with_a_default_or_a_matching_model(
    config: RouterConfig,
) -> None:
    with pytest.raises(NoRoute) as caught:
        match_route(config, RouteRequest(route_header="nope", model="code", task="chat"))
    assert caught.value.message == "route 'nope' (X-Switchboard-Route) does not exist"
    assert str(caught.value) == caught.value.message
    assert isinstance(caught.value, LookupError)


@pytest.mark.parametrize(
    ("model", "task", "message"),
    [
        pytest.param(
            "", "", "no route matches the request and there is no default route", id="nothing-asked"
        ),
        pytest.param("x", "", "no route matches model 'x' and there is no default route", id="model"),
        pytest.param("", "t", "no route matches task 't' and there is no default route", id="task"),
        pytest.param(
            "x", "t", "no route matches model 'x', task 't' and there is no default route", id="both"
        ),
    ],
)
def test_no_route_without_default(model: str, task: str, message: str) -> None:
    with pytest.raises(NoRoute) as caught:
        match_route(WITHOUT_DEFAULT, RouteRequest(model=model, task=task))
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("model", "task", "route_name"),
    [
        pytest.param("chat", "", "chat", id="route-name-still-matches-without-default"),
        pytest.param("", "chat", "chat", id="task-still-matches-without-default"),
        pytest.param("gpt-4o-mini", "", "code", id="match-models-without-default"),
    ],
)
def test_matching_does_not_need_a_default(model: str, task: str, route_name: str) -> None:
    assert match_route(WITHOUT_DEFAULT, RouteRequest(model=model, task=task)).route.name == route_name


@pytest.mark.parametrize(
    ("model", "task", "route_name"),
    [
        pytest.param("claude-sonnet-4-5", "", "claude", id="anthropic-model-name"),
        pytest.param("text-embedding-3-small", "", "embeddings", id="embedding-model-name"),
        pytest.param("", "completion", "tab-completion", id="tab-task"),
        pytest.param("", "edit", "edit", id="edit-task"),
        pytest.param("gpt-4o", "", "chat", id="unknown-model-default-chat"),
        pytest.param("agent", "edit", "agent", id="route-name-beats-task"),
    ],
)
def test_examples(examples: RouterConfig, model: str, task: str, route_name: str) -> None:
    assert match_route(examples, RouteRequest(model=model, task=task)).route.name == route_name
