"""Rendering of reports: terminal (rich), JSON (in findings.py) and one-file HTML.

The renderers show what a producer put in ``Report.metrics`` and in each finding's
evidence, and skip what is missing or malformed (documented in ``docs/json-schema.md``):

- ``metrics["summary"]`` flat headline numbers; ``metrics["timings"]`` stage → seconds
- ``metrics["history"]`` ``{"loss", "val_loss", "accuracy", "val_accuracy": [per epoch]}``
  and ``metrics["finding_epochs"]`` ``{CODE: 0-based epoch}`` (or evidence ``began_epoch``)
- ``metrics["steps"]`` ``{"step": [...], "loss": [...]}`` per training step
- ``metrics["lr_range"]`` ``{"lr", "loss", "suggested": [lo, hi]}``
- ``metrics["grad_norms"]`` / ``metrics["update_ratios"]`` ``{"layers", "steps", "values"}``
  with ``values[layer][step]`` (``values[step][layer]`` is recognised by its shape)
- ``metrics["dead_fraction"]`` / ``metrics["saturated_fraction"]`` ``{layer: fraction}``
  (also ``{phase: {layer: fraction}}`` and the Monitor's per-step record)
- ``metrics["class_counts"]`` ``{split: {class: n}}``; ``metrics["root"]`` the scanned folder
- ``metrics["repair"]`` ``{"steps": [{"remedy", "code", "before", "after", "history"}],
  "diff": text}``
- evidence ``files`` (relative to ``root``), ``pairs`` ``[[a, b]]``, ``samples``
  ``[{"file", "given", "likely", "score"}]`` become thumbnails.

Example:
    >>> from convergent.findings import Report
    >>> Report(command="scan").to_html("report.html")  # doctest: +SKIP
"""
