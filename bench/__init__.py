"""Benchmarks (`make bench`): machine-readable results with a baseline measured in the same run."""
