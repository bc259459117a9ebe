"""Benchmarks: run as modules (python -m bench.NAME), kept out of pytest."""
