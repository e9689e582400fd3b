"""Benchmarks (not tests): each prints the ceiling and the hub side by side."""
