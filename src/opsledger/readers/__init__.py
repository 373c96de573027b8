"""One module per input format; each exposes ``read(path) -> ReadResult[Record]``.

Readers parse and validate; they never analyse, never raise on bad input, and never write.
"""
