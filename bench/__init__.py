"""Benchmarks; run them by hand, never inside the test suite (a smoke run of each is)."""
