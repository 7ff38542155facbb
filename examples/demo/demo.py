"""`make demo`: the sidecar with examples/ against switchboard-sim, a short tour of routing and failover,
then the sidecar keeps running on 127.0.0.1:8787 until Ctrl-C.

No API key and no cluster: switchboard-sim plays every model of examples/endpoints.yaml on 127.0.0.1:9100.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SIM = "http://127.0.0.1:9100"
PROXY = "http://127.0.0.1:8787"
CAPABLE = "llama-3.3-70b-instruct"  # the chat route's primary model in examples/endpoints.yaml


def call(
    path: str,
    body: dict[str, object] | None = None,
    *,
    headers: dict[str, str] | None = None,
    base: str = PROXY,
    method: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def wait_for(url: str, process: subprocess.Popen[bytes], name: str) -> None:
    for _ in range(100):
        if process.poll() is not None:
            sys.exit(f"{name} exited with {process.returncode}; see its output above")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    sys.exit(f"{name} did not become ready at {url}")


def show(title: str, task: str, *, stream: bool = False) -> None:
    body = {"messages": [{"role": "user", "content": "Write a haiku about failover."}], "stream": stream}
    status, headers, payload = call("/v1/chat/completions", body, headers={"X-Switchboard-Task": task})
    picked = {k: v for k, v in headers.items() if k.lower().startswith("x-switchboard")}
    print(f"\n== {title}\n   POST /v1/chat/completions  X-Switchboard-Task: {task} -> HTTP {status}")
    for key, value in sorted(picked.items()):
        print(f"   {key}: {value}")
    if not stream and status == 200:
        answer = json.loads(payload)
        print(f"   model: {answer['model']}   text: {answer['choices'][0]['message']['content'][:60]}...")


def tour() -> None:
    show("chat goes to its primary, the capable model", "chat")
    call(f"/sim/models/{CAPABLE}", {"fault": "error-503"}, base=SIM, method="PUT")
    print(f'\n   ...now the capable model fails: PUT {SIM}/sim/models/{CAPABLE} {{"fault":"error-503"}}')
    show("chat fails over along the interactive policy's chain", "chat")
    show("streams fail over before the first byte, invisibly", "chat", stream=True)
    call(f"/sim/models/{CAPABLE}", base=SIM, method="DELETE")
    show("tab completion: critical priority, 800 ms deadline, hedged, A/B tested", "completion")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-tour", action="store_true", help="start the sidecar and the sim, skip the tour")
    parser.add_argument("--tour-only", action="store_true", help="run the tour and stop (used by the tests)")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    sim = subprocess.Popen(
        [str(BIN / "switchboard-sim"), "--config", str(REPO / "examples/demo/sim.yaml")], env=env
    )
    proxy = subprocess.Popen([str(BIN / "switchboard-proxy"), "--resources", str(REPO / "examples")], env=env)
    try:
        wait_for(f"{SIM}/healthz", sim, "switchboard-sim")
        wait_for(f"{PROXY}/readyz", proxy, "switchboard-proxy")
        if not args.no_tour:
            tour()
        if args.tour_only:
            return 0
        print(
            f"""
The sidecar is serving examples/ on {PROXY} (switchboard-sim plays the models on {SIM}).
  curl {PROXY}/v1/chat/completions -H 'X-Switchboard-Task: chat' -d '{{"messages":[{{"role":"user","content":"hi"}}]}}' -i
  OPENAI_BASE_URL={PROXY}/v1 OPENAI_API_KEY=unused python -c "import openai; print(openai.OpenAI().chat.completions.create(model='chat', messages=[{{'role':'user','content':'hi'}}]))"
Fail an endpoint and watch X-Switchboard-Endpoint / X-Switchboard-Fallback-Reason change:
  curl -X PUT {SIM}/sim/models/{CAPABLE} -d '{{"fault":"error-503"}}'     (heal: curl -X DELETE {SIM}/sim/models/{CAPABLE})
  faults: error-500 error-503 rate-limited overloaded hang reset midstream-fail first-event-error context-length
Explain a decision:  .venv/bin/switchboard explain --resources examples/ --task edit
State:  {PROXY}/switchboard/endpoints   {PROXY}/switchboard/config   {PROXY}/metrics
Ctrl-C stops both.""",
            flush=True,
        )
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        with contextlib.suppress(KeyboardInterrupt):
            while proxy.poll() is None and sim.poll() is None:
                time.sleep(0.5)
        return 0
    finally:
        for process in (proxy, sim):
            process.terminate()
        for process in (proxy, sim):
            process.wait(timeout=15)


if __name__ == "__main__":
    sys.exit(main())
