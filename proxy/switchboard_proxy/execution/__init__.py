"""All upstream I/O: the executor walks a `Plan`, with timeouts, retries, hedges, failover and streaming.

Failure classification (`classify`), the circuit breaker (`breaker`) and limits (`limits`) are small pure
state machines with an injected clock; `executor` and `streaming` are where bytes meet upstreams. An
attempt whose endpoint speaks another API is translated on its way out and back (`attempts`, `relaying`,
with the pure translators of `switchboard_proxy.translation`).
"""
