"""Typed records read from inputs and the results computed from them."""
