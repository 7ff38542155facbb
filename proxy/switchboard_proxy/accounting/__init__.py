"""Accounting of what the sidecar did: tokens and cost, feedback, experiment guardrails, and metrics."""
