"""Operator scores from any per-cell score, set beside the ground truth's (ABS's operator-level view)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from harness.space import EDGE_NAMES, OPS, operator_means


def operator_table(cells, scores, ground_truth_scores: np.ndarray) -> pd.DataFrame:
    """One row per (edge, op): the proxy's operator score (mean over the scored cells holding the op) and the
    ground truth's (6, 5) score, with each one's rank among the 5 ops of that edge (1 = best)."""
    proxy = operator_means(cells, scores)
    rows = []
    for e, edge in enumerate(EDGE_NAMES):
        proxy_rank = stats.rankdata(-np.nan_to_num(proxy[e], nan=-np.inf), method="min")
        truth_rank = stats.rankdata(-ground_truth_scores[e], method="min")
        for o, op in enumerate(OPS):
            rows.append({"edge": edge, "op": op, "proxy_score": proxy[e, o], "ground_truth_score": ground_truth_scores[e, o],
                         "proxy_rank": int(proxy_rank[o]), "ground_truth_rank": int(truth_rank[o])})
    return pd.DataFrame(rows)


def operator_agreement(table: pd.DataFrame) -> float:
    """Mean over edges of Kendall tau between the proxy's and the ground truth's operator scores."""
    taus = []
    for _, edge in table.groupby("edge", sort=False):
        ok = edge["proxy_score"].notna()
        if ok.sum() >= 2 and edge.loc[ok, "proxy_score"].nunique() > 1:
            taus.append(stats.kendalltau(edge.loc[ok, "proxy_score"], edge.loc[ok, "ground_truth_score"]).statistic)
    return float(np.mean(taus)) if taus else float("nan")
