"""Independent values for tests/report_stats.rs: reads a JSON list of cases on stdin,
answers each with scipy's (or numpy's) result on stdout (JSON). A case without
"kind" is a pair of samples (paired t-test, intervals, rank correlations); the others
name the statistic: "bootstrap" (the resamples' correlations over given indices),
"permutation" (scipy's permutation_test of |Spearman rho|), "tost", "resolution"
(one-way ANOVA ICCs, split-half Spearman-Brown, detectable difference), "bh"
(false_discovery_control), "kendall_null" (tau's sd over every permutation),
"seeds" (the seeds a paired test needs, by scipy's t quantiles)."""
import itertools
import json
import sys

import numpy as np
from scipy import stats


def pair(case):
    a, b = np.array(case["a"], dtype=float), np.array(case["b"], dtype=float)
    t = stats.ttest_rel(a, b)
    d = a - b
    n = len(d)
    half = stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / np.sqrt(n)
    ma = a.mean()
    half_a = stats.t.ppf(0.975, len(a) - 1) * a.std(ddof=1) / np.sqrt(len(a))
    return {
        "t": float(t.statistic),
        "p": float(t.pvalue),
        "mean_difference": float(d.mean()),
        "ci95": [float(d.mean() - half), float(d.mean() + half)],
        "describe_a": {"mean": float(ma), "sd": float(a.std(ddof=1)), "ci95": [float(ma - half_a), float(ma + half_a)]},
        "spearman": float(stats.spearmanr(a, b).statistic),
        "kendall_b": float(stats.kendalltau(a, b).statistic),
        "t_quantiles": [float(stats.t.ppf(q, df)) for q, df in [(0.975, 1), (0.975, 2), (0.8, 4), (0.025, 9)]],
    }


def bootstrap(case):
    a, b = np.array(case["a"], dtype=float), np.array(case["b"], dtype=float)
    draws, undefined = [], 0
    for idx in case["indices"]:
        ra, rb = a[idx], b[idx]
        if np.all(ra == ra[0]) or np.all(rb == rb[0]):
            undefined += 1
            continue
        draws.append(stats.spearmanr(ra, rb).statistic)
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return {"undefined": undefined, "ci95": [float(lo), float(hi)]}


def spearman_gain(case):
    a, b, y = (np.array(case[k], dtype=float) for k in ("a", "b", "y"))

    def gain(ra, rb, ry):
        if any(np.all(v == v[0]) for v in (ra, rb, ry)):
            return None
        return abs(stats.spearmanr(ra, ry).statistic) - abs(stats.spearmanr(rb, ry).statistic)

    draws = [g for g in (gain(a[i], b[i], y[i]) for i in case["indices"]) if g is not None]
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return {"value": gain(a, b, y), "undefined": len(case["indices"]) - len(draws), "ci95": [float(lo), float(hi)]}


def permutation(case):
    x, y = np.array(case["x"], dtype=float), np.array(case["y"], dtype=float)

    def stat(y_perm, axis=-1):
        rx = stats.rankdata(x)
        ry = stats.rankdata(y_perm, axis=-1)
        rx = rx - rx.mean()
        ry = ry - ry.mean(axis=-1, keepdims=True)
        return np.abs((rx * ry).sum(axis=-1) / np.sqrt((rx * rx).sum() * (ry * ry).sum(axis=-1)))

    res = stats.permutation_test((y,), stat, permutation_type="pairings", vectorized=True,
                                 n_resamples=case["resamples"], alternative="greater",
                                 rng=np.random.default_rng(0))
    return {"p": float(res.pvalue)}


def tost(case):
    d = np.array(case["a"], dtype=float) - np.array(case["b"], dtype=float)
    m = case["margin"]
    lower = stats.ttest_1samp(d, -m, alternative="greater").pvalue
    upper = stats.ttest_1samp(d, m, alternative="less").pvalue
    ci = stats.t.interval(0.9, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    return {"p_lower": float(lower), "p_upper": float(upper), "ci90": [float(ci[0]), float(ci[1])]}


def resolution(case):
    a = np.array(case["table"], dtype=float)
    g, n = a.shape
    means = a.mean(axis=1)
    msb = n * ((means - means.mean()) ** 2).sum() / (g - 1)
    msw = ((a - means[:, None]) ** 2).sum() / (g * (n - 1))
    f = stats.f_oneway(*a).statistic
    out = {
        "ms_between": float(msb),
        "ms_within": float(msw),
        "icc_one_seed": float((msb - msw) / (msb + (n - 1) * msw)),
        "icc_seed_mean": float((msb - msw) / msb),
        "icc_seed_mean_from_f": float(1 - 1 / f),
        "detectable": float((stats.t.ppf(1 - case["alpha"] / 2, n - 1) + stats.t.ppf(0.8, n - 1)) * np.sqrt(2 * msw / n)),
    }
    if n % 2 == 0:
        r = stats.spearmanr(a[:, : n // 2].mean(axis=1), a[:, n // 2:].mean(axis=1)).statistic
        out["split_half"] = float(r)
        out["spearman_brown"] = float(2 * r / (1 + r))
    return out


def kendall_null(case):
    n = case["n"]
    base = np.arange(n)
    taus = [stats.kendalltau(base, p).statistic for p in itertools.permutations(base)]
    return {"sd": float(np.sqrt(np.mean(np.square(taus))))}


def seeds(case):
    effect, alpha = case["effect"], case["alpha"]
    for n in range(2, 10001):
        need = ((stats.t.ppf(1 - alpha / 2, n - 1) + stats.t.ppf(0.8, n - 1)) / effect) ** 2
        if n >= need:
            return {"n": n}
    return {"n": 10000}


KINDS = {"bootstrap": bootstrap, "spearman_gain": spearman_gain, "permutation": permutation, "tost": tost, "resolution": resolution,
         "bh": lambda c: {"q": [float(q) for q in stats.false_discovery_control(c["p"], method="bh")]},
         "kendall_null": kendall_null, "seeds": seeds}

json.dump([KINDS[c["kind"]](c) if "kind" in c else pair(c) for c in json.load(sys.stdin)], sys.stdout)
