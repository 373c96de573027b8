"""Fuzz target: every registered reader of JSON Lines.

Those are today: probe history; any reader registered for these kinds later joins.

Run: python fuzz/fuzz_jsonl.py [libFuzzer options] [corpus folder]
"""

import sys

from readers_under_fuzz import fuzz_family

if __name__ == "__main__":
    fuzz_family("jsonl", sys.argv)
