"""What tests and benchmarks share: the daemon harness, the shared data, the parity helpers."""
