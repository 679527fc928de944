"""Cheap training probes run by ``convergent.diagnose`` on a copy of the user's model."""
