"""Presentation of results: JSON files and terminal summaries (no computation here)."""
