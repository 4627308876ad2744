"""Chaos experiments: the file format, the runner, the catalogue of faults and probes."""
