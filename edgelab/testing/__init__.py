"""Helpers that start real edgelab servers on 127.0.0.1:0 for tests and benchmarks."""
