"""Arch strings (`|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`) to op ids and back, with errors that point at the bad token."""
from __future__ import annotations

from collections.abc import Iterable
from functools import cache

import numpy as np

from harness.errors import ArchStringError
from harness.space.ops import EDGE_NAMES, NUM_CELLS, NUM_EDGES, NUM_OPS, OPS, decode, encode

_VALID_OPS = ", ".join(OPS)


def _format(ops) -> str:
    o = [OPS[int(i)] for i in ops]
    return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"


@cache
def _all_strings() -> tuple[str, ...]:
    return tuple(_format(c) for c in decode(np.arange(NUM_CELLS)))


@cache
def _string_to_code() -> dict[str, int]:
    return {s: code for code, s in enumerate(_all_strings())}


def format_arch(ops) -> str:
    """The arch string of one cell given as 6 op ids."""
    return _all_strings()[int(encode(validate_cells(np.asarray(ops).reshape(1, -1)))[0])]


def format_archs(cells) -> list[str]:
    """Arch strings of an (n, 6) op-id array."""
    strings = _all_strings()
    return [strings[c] for c in encode(validate_cells(cells))]


def parse_arch(text: str) -> np.ndarray:
    """The 6 op ids (int8) of one arch string; a malformed string raises `ArchStringError` saying where."""
    code = _string_to_code().get(text) if isinstance(text, str) else None
    if code is None:
        code = _string_to_code().get(text.strip()) if isinstance(text, str) else None
    if code is None:
        raise ArchStringError(explain_bad_arch(text))
    return decode(code)


def parse_archs(texts: Iterable[str], what: str = "arch strings", max_listed: int = 5) -> np.ndarray:
    """(n, 6) op ids of many arch strings; on failure the error lists the first bad rows (0-based)."""
    lookup = _string_to_code()
    texts = list(texts)
    codes = np.empty(len(texts), dtype=np.int64)
    bad = []
    for i, text in enumerate(texts):
        code = lookup.get(text) if isinstance(text, str) else None
        if code is None and isinstance(text, str):
            code = lookup.get(text.strip())
        if code is None:
            bad.append(i)
            codes[i] = 0
        else:
            codes[i] = code
    if bad:
        listed = "\n".join(f"  row {i}: {explain_bad_arch(texts[i])}" for i in bad[:max_listed])
        more = f"\n  ... and {len(bad) - max_listed} more" if len(bad) > max_listed else ""
        raise ArchStringError(f"{len(bad)} of {len(texts)} {what} are not NB201 cells:\n{listed}{more}")
    return decode(codes)


def explain_bad_arch(text) -> str:
    """Why `text` is not an arch string: the first bad token, its character position and what was expected."""
    if not isinstance(text, str):
        return f"expected an arch string like {_all_strings()[0]!r}, got {type(text).__name__} {text!r}"
    groups = text.strip().split("+")
    offset = len(text) - len(text.lstrip())
    if len(groups) != 3:
        return (f"{text!r} has {len(groups)} node group(s) separated by '+'; an NB201 arch string has 3 "
                f"(the inputs of nodes 1, 2, 3), e.g. {_all_strings()[0]!r}")
    edge = 0
    for node, group in enumerate(groups, start=1):
        if not (group.startswith("|") and group.endswith("|") and len(group) >= 2):
            return (f"node group {node} {group!r} at character {offset} of {text!r} must start and end with '|', "
                    f"as in '|nor_conv_3x3~0|'")
        tokens = group[1:-1].split("|")
        if len(tokens) != node:
            return (f"node group {node} {group!r} at character {offset} of {text!r} has {len(tokens)} input(s); "
                    f"node {node} takes exactly {node} (from nodes 0..{node - 1})")
        pos = offset + 1
        for src, token in enumerate(tokens):
            where = f"at character {pos} of {text!r} (edge {EDGE_NAMES[edge]}, token {edge + 1} of {NUM_EDGES})"
            op, sep, idx = token.partition("~")
            if not sep:
                return f"bad token {token!r} {where}: expected OP~{src}; valid ops: {_VALID_OPS}"
            if op not in OPS:
                return f"bad op {op!r} {where}; valid ops: {_VALID_OPS}"
            if idx != str(src):
                return f"bad input node {idx!r} in token {token!r} {where}: expected '~{src}'"
            pos += len(token) + 1
            edge += 1
        offset += len(group) + 1
    return f"{text!r} is not a valid arch string"  # pragma: no cover - every parseable string is in the lookup


def validate_cells(cells) -> np.ndarray:
    """`cells` as an (n, 6) int8 array of op ids; anything else raises `ArchStringError` saying what is wrong."""
    arr = np.asarray(cells)
    if arr.ndim != 2 or arr.shape[1] != NUM_EDGES:
        raise ArchStringError(f"cells must be an (n, {NUM_EDGES}) array of op ids, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ArchStringError(f"cells must hold integer op ids 0..{NUM_OPS - 1}, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= NUM_OPS):
        row = int(np.argwhere((arr < 0) | (arr >= NUM_OPS))[0][0])
        raise ArchStringError(f"op ids must be in 0..{NUM_OPS - 1} ({_VALID_OPS}); row {row} is {arr[row].tolist()}")
    return arr.astype(np.int8, copy=False)
