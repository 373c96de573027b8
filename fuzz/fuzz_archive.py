"""Fuzz target: every registered reader of ZIP archives and XLSX workbooks.

Those are today: closure package, service catalog; any reader registered for these kinds
later joins.

Run: python fuzz/fuzz_archive.py [libFuzzer options] [corpus folder]
"""

import sys

from readers_under_fuzz import fuzz_family

if __name__ == "__main__":
    fuzz_family("archive", sys.argv)
