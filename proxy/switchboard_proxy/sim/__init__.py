"""switchboard-sim: a simulated model server for the demo, the tests and the benchmarks.

It speaks the OpenAI (chat, completions, embeddings, Responses; and Azure OpenAI) and Anthropic
Messages APIs with deterministic output, and each model's profile sets latency, token rate and faults,
which the `/sim/*` control API changes at runtime.

Modules, in request order: `main` (CLI and lifecycle) → `settings` (flags and config file) → `app`
(routes) → `serving` (shared flow: profile, key, fault, pacing) → `openai_api` / `anthropic_api` /
`responses_api` (bodies and SSE) with `text` (tokens, words, vectors) and `errors` (the error shapes);
`profiles` and `state` hold the pure profile rules and the live counters; `control_api` is the `/sim/*`
API.
"""
