"""Reading the fleet's metrics back from Prometheus: PromQL per route, variant and endpoint, the answers as
counts and histograms (`measuring`), figures with intervals (`figures`), and a small HTTP API client
(`prometheus`). Used by the operator's fleet loop and by `switchboard report`.
"""
