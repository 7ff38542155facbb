"""Runtime control of `switchboard-sim` over HTTP: change profiles, read statistics and the request log.

Where it sits: `app.py` routes `/sim/*` and `/healthz` here, on every listening port. Tests and the demo
use it to fail an endpoint on purpose (`PUT /sim/models/{name}` with `{"fault": "error-503"}`), to heal it
(`DELETE`), and to check what a proxy sent upstream (`GET /sim/requests`). Errors use the OpenAI shape.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from switchboard_proxy.sim.errors import Dialect, SimError, error_response
from switchboard_proxy.sim.profiles import ProfileError, profile_to_dict
from switchboard_proxy.sim.serving import SIM_STATE, json_response, read_json_object
from switchboard_proxy.sim.state import REQUEST_LOG_SIZE


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz."""
    return json_response({"status": "ok"})


async def get_models(request: web.Request) -> web.Response:
    """GET /sim/models: every current profile (api keys redacted)."""
    state = request.app[SIM_STATE]
    return json_response({"models": {name: profile_to_dict(p) for name, p in state.profiles.items()}})


async def put_model(request: web.Request) -> web.Response:
    """PUT /sim/models/{name}: merge a JSON object of profile fields; creates the model if new."""
    name = request.match_info["name"]
    try:
        fields = await read_json_object(request)
        profile = request.app[SIM_STATE].update(name, fields=fields)
    except SimError as error:
        return error_response(error, dialect=Dialect.OPENAI)
    except ProfileError as error:
        return _profile_error_response(error)
    return json_response({"name": name, "profile": profile_to_dict(profile)})


async def delete_model(request: web.Request) -> web.Response:
    """DELETE /sim/models/{name}: back to the startup profile (a model created at runtime is removed)."""
    name = request.match_info["name"]
    state = request.app[SIM_STATE]
    if name not in state.profiles:
        return error_response(SimError("not-found", f"No model named {name!r}."), dialect=Dialect.OPENAI)
    profile = state.restore(name)
    body: dict[str, Any] = {"name": name, "profile": None if profile is None else profile_to_dict(profile)}
    return json_response(body)


async def reset(request: web.Request) -> web.Response:
    """POST /sim/reset: every profile back to startup, statistics and request log cleared."""
    request.app[SIM_STATE].reset()
    return json_response({"status": "reset"})


async def stats(request: web.Request) -> web.Response:
    """GET /sim/stats: per model requests, outcomes (ok or fault/error kind), inflight, max_inflight."""
    return json_response(request.app[SIM_STATE].stats())


async def recent_requests(request: web.Request) -> web.Response:
    """GET /sim/requests?model=NAME&limit=N: the last requests received, newest last, keys redacted."""
    model = request.query.get("model") or None
    try:
        limit = int(request.query.get("limit", str(REQUEST_LOG_SIZE)))
    except ValueError:
        error = SimError("invalid", f"limit must be an integer, got {request.query['limit']!r}")
        return error_response(error, dialect=Dialect.OPENAI)
    entries = request.app[SIM_STATE].recent_requests(model=model, limit=limit)
    return json_response({"requests": entries})


def _profile_error_response(error: ProfileError) -> web.Response:
    """400 naming every bad field: `message` for people, `problems` for tests."""
    body = {
        "error": {
            "message": f"Invalid profile: {error}",
            "type": "invalid_request_error",
            "code": "invalid_profile",
            "param": error.problems[0][0],
            "problems": [{"field": field, "message": message} for field, message in error.problems],
        }
    }
    return web.Response(body=orjson.dumps(body), status=400, content_type="application/json")
