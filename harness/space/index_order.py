"""The benchmark's official index order (its `meta_archs` list), which is not the product order of the edges."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.errors import ArchStringError
from harness.space.arch_strings import format_archs, parse_archs, validate_cells
from harness.space.ops import NUM_CELLS, decode, encode


class IndexOrder:
    """A bijection between official indices 0..15624 and cells, built from the benchmark's own list.

    The harness never assumes this order: it is read from the imported ground truth (`Oracle.order`).
    """

    def __init__(self, codes: np.ndarray):
        codes = np.asarray(codes, dtype=np.int64)
        if codes.shape != (NUM_CELLS,) or not np.array_equal(np.sort(codes), np.arange(NUM_CELLS)):
            dupes = np.flatnonzero(np.bincount(codes.clip(0, NUM_CELLS - 1), minlength=NUM_CELLS) > 1)
            raise ArchStringError(
                f"an index order must list each of the {NUM_CELLS} cells exactly once; got {codes.size} entries"
                + (f", with duplicates such as {format_archs(decode(dupes[:1]))[0]!r}" if dupes.size else ""))
        self.codes = codes
        self.codes.setflags(write=False)
        self._index_of_code = np.empty(NUM_CELLS, dtype=np.int64)
        self._index_of_code[codes] = np.arange(NUM_CELLS)

    @classmethod
    def from_archs(cls, archs: Sequence[str]) -> IndexOrder:
        """From the benchmark's list of arch strings, position = official index."""
        return cls(encode(parse_archs(archs, what="entries of the index order")))

    @property
    def cells(self) -> np.ndarray:
        """(15625, 6) cells in official index order."""
        return decode(self.codes)

    def index_of(self, cells) -> np.ndarray:
        """Official index of each cell of an (n, 6) array."""
        return self._index_of_code[encode(validate_cells(cells))]

    def cells_of(self, indices) -> np.ndarray:
        """Cells (n, 6) at official indices."""
        return decode(self.codes[check_indices(indices)])

    def archs_of(self, indices) -> list[str]:
        return format_archs(self.cells_of(indices))


def check_indices(indices) -> np.ndarray:
    """`indices` as an int64 array of official indices; out-of-range or non-integer values raise."""
    arr = np.asarray(indices)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ArchStringError(f"indices must be integers 0..{NUM_CELLS - 1}, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and (arr.min() < 0 or arr.max() >= NUM_CELLS):
        bad = arr[(arr < 0) | (arr >= NUM_CELLS)][0]
        raise ArchStringError(f"index {bad} is out of range; NB201 indices are 0..{NUM_CELLS - 1}")
    return arr
