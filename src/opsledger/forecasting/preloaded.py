"""Imported last by the forecasting workers' fork server: what it imported before is kept out
of the cyclic garbage collector's passes from then on.

Every worker is forked from that server and shares its memory until it writes to a page.
A collector pass writes to every object it visits (their reference counts and links), so
the first pass in a worker would copy the modules it inherited, page by page, although
they never change. Frozen objects are never visited (:func:`gc.freeze`).
"""

from __future__ import annotations

import gc

gc.freeze()
