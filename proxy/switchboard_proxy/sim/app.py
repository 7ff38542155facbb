"""Assembles the `switchboard-sim` aiohttp application: state keys and the route table.

Where it sits: `main.py` builds one application per listening port, all sharing one `SimState`, so the
control API on any port sees every model. Tests may call `build_app(settings)` directly.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from switchboard_proxy.sim import anthropic_api, control_api, openai_api, responses_api
from switchboard_proxy.sim.serving import PINNED_MODEL, SIM_STATE, STOPPING, add_rate_headers
from switchboard_proxy.sim.settings import SimSettings
from switchboard_proxy.sim.state import SimState

# Request bodies above this are refused with 413; long prompts for context-window tests fit easily.
MAX_BODY_BYTES = 32 * 1024 * 1024


async def _set_stopping(app: web.Application) -> None:
    app[STOPPING].set()


def build_state(settings: SimSettings) -> SimState:
    """The shared live state, starting from the settings' profiles."""
    return SimState(startup=dict(settings.profiles))


def build_app(
    settings: SimSettings, *, state: SimState | None = None, pinned_model: str = ""
) -> web.Application:
    """The application for one port; `pinned_model` makes every model request use that profile."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SIM_STATE] = state if state is not None else build_state(settings)
    app[PINNED_MODEL] = pinned_model
    app[STOPPING] = asyncio.Event()
    app.on_shutdown.append(_set_stopping)
    app.on_response_prepare.append(add_rate_headers)
    app.router.add_routes(
        [
            web.post("/v1/chat/completions", openai_api.chat_completions),
            web.post("/v1/completions", openai_api.completions),
            web.post("/v1/embeddings", openai_api.embeddings),
            web.get("/v1/models", openai_api.list_models),
            web.post("/openai/deployments/{deployment}/chat/completions", openai_api.chat_completions),
            web.post("/openai/deployments/{deployment}/completions", openai_api.completions),
            web.post("/openai/deployments/{deployment}/embeddings", openai_api.embeddings),
            web.post("/v1/messages", anthropic_api.messages),
            web.post("/v1/responses", responses_api.responses),
            web.post("/openai/responses", responses_api.responses),
            web.get("/healthz", control_api.healthz),
            web.get("/sim/models", control_api.get_models),
            web.put("/sim/models/{name}", control_api.put_model),
            web.delete("/sim/models/{name}", control_api.delete_model),
            web.post("/sim/reset", control_api.reset),
            web.get("/sim/stats", control_api.stats),
            web.get("/sim/requests", control_api.recent_requests),
        ]
    )
    return app
