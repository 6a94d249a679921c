"""Independent values for tests/report_stats.rs: reads a JSON list of cases on stdin,
answers each with scipy's result on stdout (JSON)."""
import json
import sys

import numpy as np
from scipy import stats

out = []
for case in json.load(sys.stdin):
    a, b = np.array(case["a"], dtype=float), np.array(case["b"], dtype=float)
    t = stats.ttest_rel(a, b)
    d = a - b
    n = len(d)
    half = stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / np.sqrt(n)
    ma = a.mean()
    half_a = stats.t.ppf(0.975, len(a) - 1) * a.std(ddof=1) / np.sqrt(len(a))
    out.append({
        "t": float(t.statistic),
        "p": float(t.pvalue),
        "mean_difference": float(d.mean()),
        "ci95": [float(d.mean() - half), float(d.mean() + half)],
        "describe_a": {"mean": float(ma), "sd": float(a.std(ddof=1)), "ci95": [float(ma - half_a), float(ma + half_a)]},
        "spearman": float(stats.spearmanr(a, b).statistic),
        "kendall_b": float(stats.kendalltau(a, b).statistic),
        "t_quantiles": [float(stats.t.ppf(q, df)) for q, df in [(0.975, 1), (0.975, 2), (0.8, 4), (0.025, 9)]],
    })
json.dump(out, sys.stdout)
