"""Benchmarks (`codesign-gym bench ...`): they print their figures."""
