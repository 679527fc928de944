"""Data audit: image folders and arrays → one table of per-image facts → checks → findings.

``convergent.data.scan.scan`` is the entry point; ``convergent.data.arrays.check_arrays``
is the array-level check other layers reuse (model probes, the training monitor).
Nothing here imports TensorFlow at module level.
"""
