"""The run-time hook of `convergent run`: `site/` goes on the child's PYTHONPATH."""
