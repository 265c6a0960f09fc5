"""Build tools the tests and benchmarks share (not part of the wheelfix package)."""
