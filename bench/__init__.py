"""Benchmarks: each measures the project and its reference in one run, writes
bench/results/<name>.json and prints one JSON object as its last line."""
