"""A real model behind the sidecar: llama-cpp-python's OpenAI-compatible server with Gemma 3 270M.

Through the sidecar and the official SDKs: a chat completion, a stream (llama.cpp's server sends no
usage in streams, so the sidecar estimates it and says so), the Responses API and an Anthropic Messages
call, both translated to chat completions, and a chain that fails over from a failing sim endpoint to
the real model. The server answers one request at a time on two threads: a handful of short,
sequential requests. `tests/realmodel/install.sh` (`make model`) builds what this needs; without it the
tests skip, unless SWITCHBOARD_REQUIRE_REAL_MODEL=1 (as .ci/run sets), where they fail instead.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.processes import Process, free_port, start_process
from support.stack import Stack, endpoint, policy, route, start_proxy, start_sim, write_resources

pytestmark = [pytest.mark.integration, pytest.mark.realmodel, pytest.mark.slow]

INSTALL = Path(__file__).with_name("install.sh")
HELLO = [{"role": "user", "content": "Say hello in three words."}]
TIMEOUTS = {"connectMs": 1000, "firstTokenMs": 60_000, "totalMs": 120_000}


def installed() -> dict[str, str]:
    """python= and model= of the installed real model, or skip (fail when it is required)."""
    result = subprocess.run([str(INSTALL), "paths"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        message = "the real model is not installed: run `make model` (tests/realmodel/install.sh)"
        if os.environ.get("SWITCHBOARD_REQUIRE_REAL_MODEL") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return dict(line.split("=", 1) for line in result.stdout.split())


@pytest.fixture(scope="module")
def llama() -> Iterator[Process]:
    paths = installed()
    port = free_port()
    argv = [paths["python"], "-m", "llama_cpp.server", "--model", paths["model"], "--model_alias", "gemma"]
    argv += [
        "--chat_format",
        "gemma",
        "--n_threads",
        "2",
        "--n_ctx",
        "2048",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    process = start_process(argv, ready_url=f"http://127.0.0.1:{port}/v1/models", timeout=120)
    process.base_url = f"http://127.0.0.1:{port}"
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def real(llama: Process, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("realmodel")
    sim = start_sim({"broken": {"fault": "error-503"}}, tmp_dir=tmp)
    documents = [
        endpoint(
            "gemma",
            llama.base_url,
            model="gemma",
            contextWindow=2048,
            maxOutputTokens=64,
            capabilities=["streaming"],
        ),
        endpoint("broken", sim.base_url),
        policy("to-gemma", chain=["gemma"], retries={"attempts": 0}, timeouts=TIMEOUTS),
        policy("patient", retries={"attempts": 0}, timeouts=TIMEOUTS),
        route("gemma", ["gemma"], fallbackPolicy="patient", deadlineMs=120_000),
        route("failover", ["broken"], fallbackPolicy="to-gemma", deadlineMs=120_000),
    ]
    resources = write_resources(tmp / "resources", documents)
    proxy = start_proxy(resources=resources)
    try:
        yield Stack(sim=sim, proxy=proxy, resources=resources)
    finally:
        proxy.stop()
        sim.stop()
        print(f"--- sidecar log ---\n{proxy.log_text()[-5000:]}")


def test_chat_completion(real: Stack) -> None:
    raw = real.openai().chat.completions.with_raw_response.create(
        model="gemma", messages=HELLO, max_tokens=16
    )
    completion = raw.parse()
    assert raw.headers["x-switchboard-endpoint"] == "gemma"
    assert completion.choices[0].message.content.strip()
    assert completion.usage.prompt_tokens > 0 and 0 < completion.usage.completion_tokens <= 16


def test_stream_with_usage_estimated(real: Stack) -> None:
    stream = real.openai().chat.completions.create(
        model="gemma", messages=HELLO, max_tokens=16, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()
    assert chunks[-1].choices and chunks[-1].choices[0].finish_reason in ("stop", "length")
    # llama.cpp's server ignores include_usage: the sidecar counts the tokens itself and says so.
    assert real.metric("switchboard_tokens_estimated_total", endpoint="gemma", kind="completion") > 0


def test_responses_api_translated_to_chat(real: Stack) -> None:
    client = real.openai()
    answer = client.responses.create(model="gemma", input="Say hello in three words.", max_output_tokens=16)
    assert answer.output_text.strip() and answer.status in ("completed", "incomplete")
    with client.responses.stream(model="gemma", input="Say hello.", max_output_tokens=16) as stream:
        # A length cut ends the stream with response.incomplete, which get_final_response() does not take.
        ends = [e.response for e in stream if e.type in ("response.completed", "response.incomplete")]
    assert len(ends) == 1 and ends[0].output_text.strip()
    assert ends[0].usage is not None and ends[0].usage.output_tokens > 0


def test_anthropic_messages_translated_to_chat(real: Stack) -> None:
    message = real.anthropic().messages.create(
        model="gemma", max_tokens=16, system="Be brief.", messages=HELLO
    )
    assert message.content[0].text.strip() and message.stop_reason in ("end_turn", "max_tokens")
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


def test_a_chain_fails_over_from_a_failing_sim_endpoint_to_the_real_model(real: Stack) -> None:
    raw = real.openai().chat.completions.with_raw_response.create(
        model="failover", messages=HELLO, max_tokens=16
    )
    assert raw.headers["x-switchboard-endpoint"] == "gemma"
    assert raw.headers["x-switchboard-fallback-reason"] == "overloaded"
    assert raw.parse().choices[0].message.content.strip()
