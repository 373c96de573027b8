"""Digests of a workspace's inputs: what a review read, as one fingerprint."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from opsledger.core.fileio import dumps_json, sha256_tree
from opsledger.core.inputs import Context, readers
from opsledger.core.workspace import InputKey


def digest_of(digests: Mapping[str, str]) -> str:
    """Return one SHA-256 over per-input digests (e.g. the ``inputs`` of review.json)."""
    return hashlib.sha256(dumps_json(dict(digests)).encode()).hexdigest()


def inputs_digest(ctx: Context) -> str:
    """Return one SHA-256 over the digests of every input present in the workspace."""
    return ctx.once(_inputs_digest)


def _inputs_digest(ctx: Context) -> str:
    return digest_of({key.value: sha256_tree(ctx.workspace.path(key))
                      for key in InputKey
                      if key in readers() and ctx.workspace.path(key).exists()})
