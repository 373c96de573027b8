"""The two operating procedures as data, and the runner that steps through them."""
