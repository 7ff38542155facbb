"""build_app: state lives on the app (two apps in one process share no counter), request ids, errors for
paths and methods the sidecar does not serve, in the caller's API shape."""

from __future__ import annotations

import pytest

from support.builders import endpoint, route
from support.stack import read_metric

pytestmark = pytest.mark.looptime

HELLO = {"model": "r", "messages": [{"role": "user", "content": "hi"}]}


async def test_two_apps_in_one_process_share_no_counter(upstream, sidecar) -> None:
    docs = [endpoint("ok", upstream.url), route("r", ["ok"], default=True)]
    first, second = await sidecar(docs), await sidecar(docs)
    for _ in range(3):
        assert (await first.post("/v1/chat/completions", json=HELLO)).status == 200
    first_metrics = await (await first.get("/metrics")).text()
    second_metrics = await (await second.get("/metrics")).text()
    assert read_metric(first_metrics, "switchboard_requests_total", route="r", code="200") == 3
    assert read_metric(second_metrics, "switchboard_requests_total", route="r", code="200") == 0
    assert "switchboard_config_info" in second_metrics


async def test_request_ids_are_generated_propagated_or_replaced(upstream, sidecar) -> None:
    client = await sidecar([endpoint("ok", upstream.url), route("r", ["ok"], default=True)])
    generated = {
        (await client.post("/v1/chat/completions", json=HELLO)).headers["X-Request-Id"] for _ in range(5)
    }
    assert len(generated) == 5 and all(len(i) == 32 and int(i, 16) >= 0 for i in generated)
    kept = await client.post("/v1/chat/completions", json=HELLO, headers={"X-Request-Id": "abc.123:x-y"})
    assert kept.headers["X-Request-Id"] == "abc.123:x-y"
    assert upstream.received[-1].headers["x-request-id"] == "abc.123:x-y"  # one id end to end
    odd = await client.post("/v1/chat/completions", json=HELLO, headers={"X-Request-Id": "bad id\t"})
    assert odd.headers["X-Request-Id"] != "bad id\t" and len(odd.headers["X-Request-Id"]) == 32


@pytest.mark.parametrize(
    ("method", "path", "status", "anthropic"),
    [
        pytest.param("POST", "/v1/nothing", 404, False, id="unknown-path"),
        pytest.param("GET", "/v1/chat/completions", 405, False, id="wrong-method"),
        pytest.param("GET", "/v1/messages", 405, True, id="wrong-method-anthropic"),
    ],
)
async def test_what_the_sidecar_does_not_serve(upstream, sidecar, method, path, status, anthropic) -> None:
    client = await sidecar([endpoint("ok", upstream.url), route("r", ["ok"], default=True)])
    response = await client.request(method, path)
    document = await response.json()
    assert response.status == status and "X-Request-Id" in response.headers
    assert (document.get("type") == "error") is anthropic and document["error"]["message"]
    assert response.headers.get("Allow") == ("POST" if status == 405 else None)


async def test_head_of_an_operations_endpoint_is_answered(upstream, sidecar) -> None:
    client = await sidecar([endpoint("ok", upstream.url), route("r", ["ok"], default=True)])
    response = await client.head("/healthz")
    assert response.status == 200 and "X-Request-Id" in response.headers
