"""Fuzz target: every registered reader of Markdown.

Those are today: observability baseline, tech-debt register, postmortems with front matter;
any reader registered for these kinds later joins.

Run: python fuzz/fuzz_markdown.py [libFuzzer options] [corpus folder]
"""

import sys

from readers_under_fuzz import fuzz_family

if __name__ == "__main__":
    fuzz_family("markdown", sys.argv)
