"""harness.space: arch strings, encodings both ways, isomorphism classes, operator means."""
import itertools

import numpy as np
import pytest
from nats_bench.api_topology import NATStopology
from nats_bench.genotype_utils import topology_str2structure

from harness import space
from harness.errors import ArchStringError

ALL = space.all_cells()
ALL_STRINGS = space.format_archs(ALL)


def test_all_cells_are_the_product_of_ops_over_edges():
    assert ALL.shape == (15625, 6)
    assert [tuple(c) for c in ALL] == list(itertools.product(range(5), repeat=6))
    np.testing.assert_array_equal(space.encode(ALL), np.arange(15625))
    np.testing.assert_array_equal(space.decode(space.encode(ALL)), ALL)


def test_strings_round_trip_for_every_cell_and_match_the_benchmarks_parser():
    assert len(set(ALL_STRINGS)) == 15625
    np.testing.assert_array_equal(space.parse_archs(ALL_STRINGS), ALL)
    for cell, text in zip(ALL[::97], ALL_STRINGS[::97]):
        np.testing.assert_array_equal(space.parse_arch(text), cell)
        assert space.format_arch(cell) == text
        nodes = NATStopology.str2lists(text)  # the benchmark's own reading of the string
        assert [op for node in nodes for op, _ in node] == [space.OPS[o] for o in cell]
        assert [src for node in nodes for _, src in node] == [src for _, src in space.EDGES]


@pytest.mark.parametrize("text, expected", [
    ("|nor_conv_3x3~0|+|conv3x3~0|none~1|+|none~0|none~1|none~2|",
     ["'conv3x3'", "character 18", "edge 2<-0", "token 2 of 6", "valid ops: none, skip_connect, nor_conv_1x1, "
      "nor_conv_3x3, avg_pool_3x3"]),
    ("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~2|none~2|", ["'2'", "character 41", "edge 3<-1", "expected '~1'"]),
    ("|nor_conv_3x3~0|+|none~0|none~1|", ["2 node group(s)", "3"]),
    ("|nor_conv_3x3~0|+|none~0|+|none~0|none~1|none~2|", ["node group 2", "1 input(s)", "exactly 2"]),
    ("nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", ["node group 1", "must start and end with '|'"]),
    ("|nor_conv_3x3|+|none~0|none~1|+|none~0|none~1|none~2|", ["bad token 'nor_conv_3x3'", "character 1",
                                                               "expected OP~0"]),
])
def test_malformed_strings_name_the_bad_token_and_where(text, expected):
    with pytest.raises(ArchStringError) as err:
        space.parse_arch(text)
    for fragment in expected:
        assert fragment in str(err.value)


def test_parse_archs_lists_the_first_bad_rows():
    texts = [ALL_STRINGS[0], "junk", ALL_STRINGS[1], None] + ["bad"] * 10
    with pytest.raises(ArchStringError) as err:
        space.parse_archs(texts)
    message = str(err.value)
    assert "12 of 14" in message and "row 1:" in message and "row 3:" in message and "and 7 more" in message
    assert "row 0:" not in message and "row 2:" not in message


def test_surrounding_whitespace_is_tolerated_but_inner_is_not():
    np.testing.assert_array_equal(space.parse_arch(f"  {ALL_STRINGS[7]}\n"), ALL[7])
    with pytest.raises(ArchStringError):
        space.parse_arch(ALL_STRINGS[7].replace("|+|", "| + |"))


def test_cell_arrays_are_validated():
    with pytest.raises(ArchStringError, match="shape"):
        space.validate_cells(np.zeros((3, 5), dtype=int))
    with pytest.raises(ArchStringError, match="row 1"):
        space.validate_cells([[0] * 6, [0, 0, 5, 0, 0, 0]])
    with pytest.raises(ArchStringError, match="integer"):
        space.validate_cells(np.zeros((2, 6)))


def test_onehot_both_ways():
    onehot = space.to_onehot(ALL)
    assert onehot.shape == (15625, 6, 5) and (onehot.sum(axis=2) == 1).all()
    assert onehot[1234, 2, ALL[1234, 2]] == 1
    np.testing.assert_array_equal(space.from_onehot(onehot), ALL)
    broken = onehot[:3].copy()
    broken[2, 4] = 0
    with pytest.raises(ArchStringError, match="row 2"):
        space.from_onehot(broken)


def test_adjacency_matches_the_benchmarks_str2matrix_and_inverts():
    adj = space.to_adjacency(ALL)
    for k in range(0, 15625, 61):
        np.testing.assert_array_equal(adj[k], NATStopology.str2matrix(ALL_STRINGS[k]))
    np.testing.assert_array_equal(space.from_adjacency(adj), ALL)
    bad = adj[:2].copy()
    bad[1, 0, 2] = 3
    with pytest.raises(ArchStringError, match="row 1"):
        space.from_adjacency(bad)


def _naslib_reference(arch_str):
    """NASLib's documented conversion: op order [skip, none, conv3x3, conv1x1, pool], edges (u, v) 1-based."""
    naslib_op_order = ["skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3"]
    node_ops = [[tok.split("~")[0] for tok in group.strip("|").split("|")] for group in arch_str.split("+")]
    return [naslib_op_order.index(node_ops[v - 2][u - 1]) for u, v in space.NASLIB_EDGES]


def test_naslib_indices_both_ways():
    naslib = space.to_naslib(ALL)
    for k in range(0, 15625, 37):
        assert naslib[k].tolist() == _naslib_reference(ALL_STRINGS[k])
    np.testing.assert_array_equal(space.from_naslib(naslib), ALL)
    # NASLib's 'Identity' is 0 and 'Zero' is 1: an all-skip cell is all zeros there
    assert space.to_naslib([[1] * 6]).tolist() == [[0] * 6]


def test_configspace_names_both_ways():
    cell = space.parse_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
                            "skip_connect~2|")
    config = space.to_configspace(cell)
    assert config == {"1<-0": "nor_conv_3x3", "2<-0": "nor_conv_3x3", "2<-1": "avg_pool_3x3",
                      "3<-0": "skip_connect", "3<-1": "nor_conv_3x3", "3<-2": "skip_connect"}
    np.testing.assert_array_equal(space.from_configspace(config), cell)
    for k in range(0, 15625, 499):
        np.testing.assert_array_equal(space.from_configspace(space.to_configspace(ALL[k])), ALL[k])
    with pytest.raises(ArchStringError, match=r"missing \['3<-2'\]"):
        space.from_configspace({k: v for k, v in config.items() if k != "3<-2"})
    with pytest.raises(ArchStringError, match="'conv'"):
        space.from_configspace({**config, "1<-0": "conv"})


def test_isomorphism_gives_the_benchmarks_6466_classes_and_partition():
    ids = space.class_ids(ALL)
    assert space.num_classes() == 6466 and len(np.unique(ids)) == 6466
    assert ids.min() == 0 and ids.max() == 6465
    nats_forms = [topology_str2structure(s).to_unique_str(consider_zero=True) for s in ALL_STRINGS]
    ours_by_nats = {}
    for form, cid in zip(nats_forms, ids):
        ours_by_nats.setdefault(form, set()).add(int(cid))
    assert all(len(c) == 1 for c in ours_by_nats.values())  # same partition as NATS-Bench's rule
    assert len(ours_by_nats) == 6466
    reps = space.class_representatives()
    np.testing.assert_array_equal(space.class_ids(reps), np.arange(6466))
    np.testing.assert_array_equal(np.sort(space.encode(reps)), space.encode(reps))  # numbered by first member


@pytest.mark.parametrize("a, b, isomorphic", [
    # a dead edge: node 2 feeds nothing (3<-2 is none), so what node 2 computes does not matter
    ("|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
     "|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|", True),
    # input order and skip connections: conv(skip(x)) on 2<-1 is conv(x) on 2<-0
    ("|skip_connect~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|skip_connect~2|",
     "|skip_connect~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|", True),
    # the benchmark's rule keeps zero terms, so swapping nodes 1 and 2 is not collapsed (documented parity quirk)
    ("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|none~0|skip_connect~1|skip_connect~2|",
     "|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|skip_connect~1|skip_connect~2|", False),
    # different functions stay apart
    ("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|none~0|skip_connect~1|skip_connect~2|",
     "|nor_conv_1x1~0|+|avg_pool_3x3~0|none~1|+|none~0|skip_connect~1|skip_connect~2|", False),
])
def test_isomorphism_rule_on_hand_built_cells(a, b, isomorphic):
    ids = space.class_ids([space.parse_arch(a), space.parse_arch(b)])
    assert (ids[0] == ids[1]) == isomorphic
    assert (space.canonical_form(space.parse_arch(a)) == space.canonical_form(space.parse_arch(b))) == isomorphic


def test_operator_means_against_a_plain_loop():
    rng = np.random.default_rng(0)
    cells = ALL[rng.choice(15625, 400, replace=False)]
    values = rng.normal(size=400)
    values[:7] = np.nan
    got = space.operator_means(cells, values)
    for e in range(6):
        for o in range(5):
            picked = values[(cells[:, e] == o) & np.isfinite(values)]
            assert got[e, o] == pytest.approx(picked.mean())
    with pytest.raises(ArchStringError, match="one entry per cell"):
        space.operator_means(cells, values[:-1])


def test_index_order_requires_a_permutation():
    with pytest.raises(ArchStringError, match="exactly once"):
        space.IndexOrder(np.zeros(15625, dtype=int))
    with pytest.raises(ArchStringError, match="out of range"):
        space.IndexOrder(np.arange(15625)).cells_of([15625])
