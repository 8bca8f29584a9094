"""The NB201 cell space: ops, edges, arch strings, encodings, isomorphism classes, the official index order.

Pure numpy. A cell is 6 op ids in edge order (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2); a set of cells is an (n, 6) array.
"""
from harness.space.arch_strings import explain_bad_arch, format_arch, format_archs, parse_arch, parse_archs, validate_cells
from harness.space.encodings import (
    NASLIB_EDGES,
    NASLIB_OPS,
    from_adjacency,
    from_configspace,
    from_naslib,
    from_onehot,
    operator_means,
    to_adjacency,
    to_configspace,
    to_naslib,
    to_onehot,
)
from harness.space.index_order import IndexOrder, check_indices
from harness.space.isomorphism import canonical_form, class_ids, class_representatives, num_classes
from harness.space.ops import (
    EDGE_NAMES,
    EDGES,
    NUM_CELLS,
    NUM_EDGES,
    NUM_NODES,
    NUM_OPS,
    OPS,
    all_cells,
    decode,
    encode,
)

__all__ = [
    "EDGES", "EDGE_NAMES", "NASLIB_EDGES", "NASLIB_OPS", "NUM_CELLS", "NUM_EDGES", "NUM_NODES", "NUM_OPS", "OPS",
    "IndexOrder", "all_cells", "canonical_form", "check_indices", "class_ids", "class_representatives", "decode",
    "encode", "explain_bad_arch", "format_arch", "format_archs", "from_adjacency", "from_configspace", "from_naslib",
    "from_onehot", "num_classes", "operator_means", "parse_arch", "parse_archs", "to_adjacency", "to_configspace",
    "to_naslib", "to_onehot", "validate_cells",
]
