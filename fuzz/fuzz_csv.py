"""Fuzz target: every registered reader of CSV exports.

Those are today: tickets, risk log, incidents, probe history, EPSS; any reader registered
for these kinds later joins.

Run: python fuzz/fuzz_csv.py [libFuzzer options] [corpus folder]
"""

import sys

from readers_under_fuzz import fuzz_family

if __name__ == "__main__":
    fuzz_family("csv", sys.argv)
