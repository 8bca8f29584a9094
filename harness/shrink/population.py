"""What the population methods (EPS, AutoSpace) share: the whole space as a lookup of cells and ground truth,
and R_EA's mutation inside an allowed set of cells.

Mutation is `harness.analysis.search.mutate`, the one REA simulations use (a node chosen uniformly, one of its
input edges uniformly, one of the 4 other ops uniformly), so a population method and the searches it is compared
with move through the space the same way.
"""
from __future__ import annotations

import numpy as np

from harness.analysis.search import mutate
from harness.analysis.shrunk_space import space_quality
from harness.errors import HarnessError
from harness.space import NUM_CELLS, NUM_EDGES, decode, encode, format_archs, validate_cells


class SpaceIndex:
    """The whole space a population lives in: `cells` (n, 6) and their ground truth `truth` (n,), looked up by
    cell. Only cells of `cells` with a finite ground truth may join a population, so every member has one."""

    def __init__(self, cells, truth):
        self.cells = validate_cells(cells)
        self.truth = np.asarray(truth, dtype=np.float64)
        if self.truth.shape != (len(self.cells),):
            raise HarnessError(f"truth must hold one value per cell ({len(self.cells)}), got shape {self.truth.shape}")
        self.codes = encode(self.cells)
        if len(np.unique(self.codes)) != len(self.codes):
            raise HarnessError("cells holds the same cell twice; pass each cell once (e.g. the oracle's cells)")
        self.position = np.full(NUM_CELLS, -1, dtype=np.int64)
        self.position[self.codes] = np.arange(len(self.cells))
        self.joinable = np.zeros(NUM_CELLS, dtype=bool)  # by product-order code
        self.joinable[self.codes[np.isfinite(self.truth)]] = True
        self.place = encode(np.eye(NUM_EDGES, dtype=np.int64))

    def positions(self, cells) -> np.ndarray:
        """Rows of the (m, 6) `cells` in the space."""
        cells = validate_cells(cells)
        found = self.position[encode(cells)]
        if (found < 0).any():
            raise HarnessError(f"cell {format_archs(cells[found < 0][:1])[0]} is not in the space searched; pass "
                               f"the whole space as cells")
        return found

    def truth_of(self, cells) -> np.ndarray:
        return self.truth[self.positions(cells)]

    def global_rank(self, value: float) -> int:
        """1 + the number of cells of the space with a better ground truth."""
        return int((self.truth[np.isfinite(self.truth)] > value).sum() + 1)

    def random_cells(self, count: int, rng: np.random.Generator, allowed: np.ndarray | None = None) -> np.ndarray:
        """`count` distinct cells drawn uniformly among the joinable ones that `allowed` (by code) lets in."""
        pool = self.joinable if allowed is None else self.joinable & allowed
        codes = np.flatnonzero(pool)
        if count > len(codes):
            raise HarnessError(f"a population of {count} distinct cells does not fit in the {len(codes)} cells "
                               f"allowed; ask for a smaller population")
        return self.cells[self.position[rng.choice(codes, size=count, replace=False)]]

    def mutant(self, parent, rng: np.random.Generator, allowed: np.ndarray) -> np.ndarray | None:
        """A one-edge mutant of `parent` (R_EA's mutation) among the joinable cells `allowed` (by code) lets in,
        or None when `MUTATION_TRIES` draws found none."""
        child = mutate(int(self.positions(np.asarray(parent).reshape(1, -1))[0]), self.cells, self.codes,
                        self.position, self.joinable & allowed, self.place, rng)
        return None if child is None else self.cells[child]

    def quality(self, cells) -> dict:
        """`space_quality` of the sub-space made of `cells`."""
        inside = np.zeros(len(self.cells), dtype=bool)
        inside[self.positions(cells)] = True
        return space_quality(self.truth, inside)

    def pick(self, cells, values) -> dict:
        """The cell with the highest value (the earliest of ties), with its ground truth and global rank."""
        best = int(np.argsort(-np.asarray(values, dtype=np.float64), kind="stable")[0])
        truth = float(self.truth_of(cells[best:best + 1])[0])
        return {"arch": format_archs(cells[best:best + 1])[0], "value": float(values[best]), "truth": truth,
                "global_rank": self.global_rank(truth)}


def outside(cells) -> np.ndarray:
    """A by-code mask of every cell but `cells` (a mutant must be new to its population)."""
    mask = np.ones(NUM_CELLS, dtype=bool)
    mask[encode(cells)] = False
    return mask


def within_hamming(reference, distance: int) -> np.ndarray:
    """A by-code mask of the cells differing from `reference` on at most `distance` edges."""
    return (decode(np.arange(NUM_CELLS)) != np.asarray(reference)).sum(axis=1) <= distance

