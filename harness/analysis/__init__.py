"""Analysis: rank metrics with bootstrap intervals, operator scores, shrunk-space quality, score sets, the CI gate.

Plain functions of arrays (scikit-learn style) with validated inputs; only `score_sets`, `baselines`,
`evaluate` and `gate` read the oracle.
"""
