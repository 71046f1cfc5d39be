"""The bulk pc-value table decoder (numpy) against the one-table reader, on generated tables."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_imagesize.measure.go.pclntab import _pc_span, _pc_spans


def uvarint(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def table(pairs: list[tuple[int, int]]) -> bytes:
    """A pc-value table: (value delta, pc delta) pairs, then the zero value delta that ends it."""
    return b"".join(uvarint(v) + uvarint(pc) for v, pc in pairs) + b"\0"


pair = st.tuples(st.integers(1, 1 << 20), st.integers(0, 1 << 40))
tables = st.lists(st.lists(pair, min_size=1, max_size=6), min_size=1, max_size=20)


@settings(max_examples=400, deadline=None)
@given(tables, st.data())
def test_bulk_decoder_agrees_with_the_one_table_reader(
    pairs: list[list[tuple[int, int]]], data: st.DataObject
) -> None:
    blobs = [table(p) for p in pairs]
    if data.draw(st.booleans(), label="damage"):  # a flipped byte: both readers must still agree
        i = data.draw(st.integers(0, len(blobs) - 1), label="table")
        raw = bytearray(blobs[i])
        raw[data.draw(st.integers(0, len(raw) - 1), label="pos")] = data.draw(
            st.integers(0, 255), label="byte"
        )
        blobs[i] = bytes(raw)
    buf = b"\x07" * 3 + b"".join(blobs) + b"\x01" * 32  # tables lie inside data, as in .gopclntab
    starts = np.cumsum([3] + [len(b) for b in blobs[:-1]]).astype(np.int64)
    ends = starts + np.array([len(b) for b in blobs], np.int64)
    one = [_pc_span(buf, int(a), int(b)) for a, b in zip(starts, ends, strict=False)]
    assert _pc_spans(buf, starts, ends).tolist() == one


def test_sums_pc_deltas_up_to_the_end_marker() -> None:
    blob = table([(2, 5), (300, 200), (4, 1 << 30)]) + table([(0, 7)])  # first value delta may be 0
    spans = _pc_spans(blob, np.array([0, len(blob) - 3]), np.array([len(blob) - 3, len(blob)]))
    assert spans.tolist() == [5 + 200 + (1 << 30), 7]
    unterminated = uvarint(2) + uvarint(5)
    assert _pc_spans(unterminated, np.array([0]), np.array([len(unterminated)])).tolist() == [-1]
