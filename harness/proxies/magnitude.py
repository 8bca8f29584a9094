"""Architecture-parameter magnitude (DARTS): an op's score is its softmax weight on its edge.

It ranks operators, not cells. The cell score derived here is the log-probability of the cell under the
architecture distribution, sum over edges of log softmax(alpha_e)[op_e]: the cell DARTS would sample most often
scores highest, and it decomposes over edges exactly as the operator scores do.
"""
from __future__ import annotations

import numpy as np

from harness.errors import HarnessError
from harness.proxies.registry import ProxyContext, Setting, get_proxy, register_proxy
from harness.proxies.supernet_accuracy import load_run
from harness.space import NUM_EDGES


def operator_weights(context: ProxyContext) -> np.ndarray:
    """(6, 5) softmax of a DARTS run's architecture parameters over each edge's allowed ops: the operator scores."""
    config, model = load_run(context, get_proxy("magnitude").resolve_settings(context.settings)["epoch"])
    if getattr(model, "arch_parameters", None) is None:
        raise HarnessError(f"{context.run_dir} is a {config.mode} run without architecture parameters; train one "
                           f"with `harness train supernet --mode darts`")
    return model.op_weights().detach().double().cpu().numpy()


@register_proxy("magnitude", needs=("arch_parameters",),
                description="log-probability of the cell under a DARTS run's softmax(architecture parameters)",
                settings={"epoch": Setting(int, None, "the checkpoint's epoch; null: the run's last", optional=True)})
def magnitude(cells: np.ndarray, context: ProxyContext) -> np.ndarray:
    weights = operator_weights(context)
    with np.errstate(divide="ignore"):  # an op outside a restricted space has weight 0: log-probability -inf
        return np.log(weights[np.arange(NUM_EDGES), np.asarray(cells)]).sum(axis=1)
