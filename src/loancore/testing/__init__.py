"""Hypothesis strategies and state machines for users' own test suites (needs hypothesis)."""
