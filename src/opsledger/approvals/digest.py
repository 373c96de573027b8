"""What an approval refers to: one digest of the documents approved, stamps left out."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

# Lines that say when a document was made, or whether it was approved, not what it says;
# and lines derived from the clock alone (the next occurrences of a schedule), which would
# otherwise make an approved document look changed as the days pass.
_STAMP_LINE = re.compile(
    rb"^(?:Generated|Drafted) \d{4}-\d{2}-\d{2}T[^\n]*$|^DTSTAMP[:;][^\n]*$"
    rb"|^\*\*Approval status:\*\*[^\n]*$|^Next occurrences as of [^\n]*$",
    re.MULTILINE,
)


def unstamped(data: bytes) -> bytes:
    """Return a text document without its stamp lines (what an approval refers to)."""
    return _STAMP_LINE.sub(b"", data)


def evidence_fingerprint(path: Path) -> str:
    """Return a digest of the evidence's content, ignoring when it was generated.

    Evidence is stamped with the run's time; a re-run that changes nothing else must not
    look like a new draft, or approvals of it would be lost and later steps redone.
    """
    data = path.read_bytes()
    if path.suffix == ".json":
        try:
            document = json.loads(data)
        except ValueError:
            return hashlib.sha256(data).hexdigest()
        if isinstance(document, dict):
            document.pop("generated_at", None)
        data = json.dumps(document, sort_keys=True).encode()
    else:
        data = unstamped(data)
    return hashlib.sha256(data).hexdigest()


def documents_digest(documents: dict[str, Path]) -> str:
    """Return one digest of named documents' content (absent ones are left out)."""
    digests = {name: evidence_fingerprint(path) for name, path in documents.items()
               if path.exists()}
    return hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()
