"""Pure functions over records and arrays: no file or network I/O."""
