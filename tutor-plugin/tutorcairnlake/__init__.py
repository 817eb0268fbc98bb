"""Cairn for Tutor: the `cairnlake` plugin."""

__version__ = "0.1.0"
