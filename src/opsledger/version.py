"""The version of opsledger."""

__version__ = "0.1.0"
