"""Rendering of reports: terminal (rich), JSON (in findings.py) and HTML."""
