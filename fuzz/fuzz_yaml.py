"""Fuzz target: every registered reader of YAML.

Those are today: opsledger.yaml, gates, Backstage catalog, SLO definitions; any reader
registered for these kinds later joins.

Run: python fuzz/fuzz_yaml.py [libFuzzer options] [corpus folder]
"""

import sys

from readers_under_fuzz import fuzz_family

if __name__ == "__main__":
    fuzz_family("yaml", sys.argv)
