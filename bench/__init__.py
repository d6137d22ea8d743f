"""Benchmarks that print numbers (run with `make bench`); never timed assertions in tests."""
