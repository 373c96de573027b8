from __future__ import annotations

from pathlib import Path

import pytest

from opsledger.core.problems import ReadResult
from opsledger.formats.textfile import check_text, decode_text

CHUNK = 1 << 20


@pytest.mark.parametrize(
    ("data", "location", "found"),
    [
        (b"ok\n" * 10 + b"\xe2\x82", "line 11", "byte 0xe2 at offset 30"),
        (b"a" * (CHUNK - 1) + b"\xe2\x82\xac\n\xff", "line 2", f"byte 0xff at offset {CHUNK + 3}"),
        # An invalid sequence that starts in one chunk and ends in the next.
        (b"x" * (CHUNK - 1) + b"\xe2\x28\xa1", "line 1", f"byte 0xe2 at offset {CHUNK - 1}"),
        (b"a,b\n1,\x002\n", "line 2", "binary data"),
        ("a,b\n".encode("utf-16"), "line 1", "a UTF-16 byte-order mark"),
    ],
)
def test_check_text_locates_the_first_bad_byte(data: bytes, location: str, found: str) -> None:
    for check in (check_text, decode_text):
        result: ReadResult[object] = ReadResult(Path("f.csv"))
        assert not check(data, result)
        assert result.fatal
        assert (result.problems[0].location, result.problems[0].found) == (location, found)


def test_valid_utf8_across_chunks_passes() -> None:
    data = ("é" * CHUNK).encode()
    result: ReadResult[object] = ReadResult(Path("f.csv"))
    assert check_text(data, result) and result.problems == []
    assert decode_text(data, result) == "é" * CHUNK
