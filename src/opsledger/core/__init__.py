"""The kernel every capability shares: configuration schema, workspace, inputs, problems,
errors, safe file I/O.
"""
