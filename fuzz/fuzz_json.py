"""Fuzz target: every registered reader of JSON documents.

Those are today: scanner exports, handover records, perf runs, incidents; any reader
registered for these kinds later joins.

Run: python fuzz/fuzz_json.py [libFuzzer options] [corpus folder]
"""

import sys

from readers_under_fuzz import fuzz_family

if __name__ == "__main__":
    fuzz_family("json", sys.argv)
