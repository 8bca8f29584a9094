"""Analysis: rank metrics with bootstrap intervals, operator scores, shrunk-space quality, score sets, the CI gate.

Plain functions of arrays (scikit-learn style) with validated inputs; only `score_sets`, `baselines`,
`evaluate` and `gate` read the oracle.
"""

#: metrics the CI gate checks unless told otherwise (labels of the metrics table)
GATE_METRICS = ("kendall_tau", "spearman_rho", "top_kendall_tau@20%")
