"""Adapters: the only place that imports databases, file formats and third-party calendars."""
