"""Benchmarks of convergent itself: fault cases with known answers, and performance."""
