"""Networks of the NB201 space: cell ops, the standalone network, the weight-sharing supernet, the cost model.

A cell is 6 op ids in edge order (see `harness.space`). Dead edges, `none` edges and nodes that cannot reach the
output are never computed (`cells.plan_of`), in the standalone network and in the supernet's single-path mode.
"""
from harness.nets.cells import as_cell, plan_of
from harness.nets.cost import count_flops, count_params
from harness.nets.ops import ReLUConvBN, ResNetBasicblock
from harness.nets.standalone import TinyNetwork
from harness.nets.supernet import Supernet

__all__ = ["ReLUConvBN", "ResNetBasicblock", "Supernet", "TinyNetwork", "as_cell", "count_flops", "count_params",
           "plan_of"]
