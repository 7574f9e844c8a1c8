"""Reference side of the metrics cross-check (see crosscheck_metrics.ts).

Recomputes every metric of the cases file with scikit-learn where it has the metric
(mean_absolute_error, mean_squared_error, roc_auc_score, accuracy_score, confusion_matrix,
silhouette_score) and NumPy transcriptions of fairlearn's definitions, the unbiased RBF MMD^2,
the top-label ECE, percentile intervals and seed aggregation; and the paired statistics of
report.compare with SciPy (scipy.stats.wilcoxon, scipy.stats.permutation_test with every sign
pattern), exact integer enumeration, a NumPy convolution of the signed-rank null, Holm's
adjustment as statsmodels' multipletests(method='holm') computes it, bootstrap percentiles and
a brute-force Pareto front; and eval.metrics' regression breakdowns: bias and Bland-Altman
limits by hand (np.mean, np.std(ddof=1), mean +/- 1.96 SD), subject-weighted MAE with
np.unique/np.bincount, bins of the true value with np.digitize and scipy.stats.binned_statistic,
gaps over eligible groups and cells. Prints the largest absolute difference per family and
overall, and exits 1 if any exceeds the tolerance.
"""
import itertools
import json
import sys
import warnings as pywarnings

import numpy as np
from scipy import stats
from sklearn.metrics import (accuracy_score, confusion_matrix, mean_absolute_error,
                             mean_squared_error, roc_auc_score, silhouette_score)

TOL = 1e-9
worst = {}
counts = {}


def compare(family, name, ours, ref):
    ours = np.nan if ours is None else float(ours)
    ref = float(ref)
    counts[family] = counts.get(family, 0) + 1
    if np.isnan(ours) or np.isnan(ref):
        if not (np.isnan(ours) and np.isnan(ref)):
            print(f"MISMATCH {family}.{name}: ours={ours} reference={ref}")
            worst[family] = max(worst.get(family, 0.0), np.inf)
        return
    d = abs(ours - ref)
    worst[family] = max(worst.get(family, 0.0), d)
    if d > TOL:
        print(f"MISMATCH {family}.{name}: ours={ours!r} reference={ref!r} diff={d:.3g}")


def group_ids(g):
    return sorted(set(int(x) for x in g if x >= 0))


def spread(values):
    v = [x for x in values if not np.isnan(x)]
    return max(v) - min(v) if v else np.nan


def subject_mae(y, p, subj):
    """Mean over subjects of each subject's MAE (np.unique + np.bincount)."""
    if len(y) == 0:
        return np.nan, 0
    _, inv = np.unique(subj, return_inverse=True)
    per = np.bincount(inv, weights=np.abs(p - y)) / np.bincount(inv)
    return per.mean(), len(per)


def bland_altman(y, p):
    d = np.asarray(p, float) - np.asarray(y, float)
    bias = d.mean() if len(d) else np.nan
    sd = d.std(ddof=1) if len(d) > 1 else np.nan
    return bias, sd, bias - 1.96 * sd, bias + 1.96 * sd


def eligible_spread(values, ids, eligible):
    if all(k in eligible for k in ids):
        return spread(values)
    kept = [v for v, k in zip(values, ids) if k in eligible and not np.isnan(v)]
    return max(kept) - min(kept) if len(kept) >= 2 else np.nan


def fairlearn_rates(y, yhat):
    # fairlearn: sklearn confusion_matrix normalised by true class, 0/0 -> 0 (nan_to_num)
    cm = confusion_matrix(y, yhat, labels=[0, 1]).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
    tpr, fpr = norm[1, 1], norm[0, 1]
    return tpr, fpr, float(np.mean(yhat)) if len(yhat) else np.nan


def ece_top_label(y, p, bins):
    p = np.asarray(p, float)
    conf = np.maximum(p, 1 - p)
    pred = (p >= 0.5).astype(int)
    edges = np.arange(bins + 1) / bins
    total = 0.0
    for b in range(bins):
        m = (conf > edges[b]) & (conf <= edges[b + 1])
        if m.any():
            total += m.mean() * abs((pred[m] == np.asarray(y)[m]).mean() - conf[m].mean())
    return total


def mmd2_unbiased(x, y, sigma):
    def k(a, b):
        d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return np.exp(-d2 / (2 * sigma ** 2))
    n, m = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
            - 2 * kxy.mean())


def median_heuristic(z):
    d = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(-1))
    iu = np.triu_indices(len(z), 1)
    return np.median(d[iu])


def main(path):
    cases = json.load(open(path))
    for c in cases["regression"]:
        y, p, g, r = np.array(c["yTrue"]), np.array(c["yPred"]), np.array(c["group"]), c["result"]
        compare("regression", "mae", r["mae"], mean_absolute_error(y, p))
        compare("regression", "rmse", r["rmse"], np.sqrt(mean_squared_error(y, p)))
        maes = [mean_absolute_error(y[g == k], p[g == k]) for k in group_ids(g)]
        for ours, k in zip(r["groups"], group_ids(g)):
            compare("regression", f"group{k}.mae", ours["mae"], mean_absolute_error(y[g == k], p[g == k]))
            compare("regression", f"group{k}.rmse", ours["rmse"], np.sqrt(mean_squared_error(y[g == k], p[g == k])))
        compare("regression", "maeGap", r["maeGap"], max(maes) - min(maes))
        compare("regression", "worstGroupMae", r["worstGroupMae"], max(maes))

    for c in cases["classification"]:
        y, s, g, r = np.array(c["yTrue"], int), np.array(c["score"]), np.array(c["group"]), c["result"]
        yhat = (s >= c["threshold"]).astype(int)
        compare("classification", "auc", r["auc"], roc_auc_score(y, s))
        compare("classification", "accuracy", r["accuracy"], accuracy_score(y, yhat))
        compare("classification", "ece", r["ece"], ece_top_label(y, s, c["eceBins"]))
        aucs, tprs, fprs, srs = [], [], [], []
        for ours, k in zip(r["groups"], group_ids(g)):
            m = g == k
            auc = roc_auc_score(y[m], s[m]) if len(set(y[m])) == 2 else np.nan
            tpr, fpr, sr = fairlearn_rates(y[m], yhat[m])
            aucs.append(auc); tprs.append(tpr); fprs.append(fpr); srs.append(sr)
            compare("classification", f"group{k}.auc", ours["auc"], auc)
            compare("classification", f"group{k}.tpr", ours["tpr"], tpr)
            compare("classification", f"group{k}.fpr", ours["fpr"], fpr)
            compare("classification", f"group{k}.selectionRate", ours["selectionRate"], sr)
            compare("classification", f"group{k}.accuracy", ours["accuracy"], accuracy_score(y[m], yhat[m]))
        defined = [a for a in aucs if not np.isnan(a)]
        compare("classification", "minAuc", r["minAuc"], min(defined) if defined else np.nan)
        compare("classification", "aucGap", r["aucGap"], spread(aucs))
        compare("classification", "demographicParityDifference", r["demographicParityDifference"], spread(srs))
        compare("classification", "equalizedOddsDifference", r["equalizedOddsDifference"], max(spread(tprs), spread(fprs)))

    for c in cases["representation"]:
        z, g = np.array(c["z"]), np.array(c["group"])
        known = g >= 0
        sigma = median_heuristic(z[known])
        compare("representation", "sigma(median heuristic)", c["sigma"], sigma)
        x, y = z[g == 0], z[g == 1]
        compare("representation", "mmd2 pair01 median sigma", c["pair01Median"]["mmd2"], mmd2_unbiased(x, y, median_heuristic(np.vstack([x, y]))))
        compare("representation", "mmd2 pair01 fixed sigma", c["pair01Fixed"]["mmd2"], mmd2_unbiased(x, y, c["pair01Fixed"]["sigma"]))
        ids = group_ids(g)
        pairs = [mmd2_unbiased(z[g == a], z[g == b], sigma) for i, a in enumerate(ids) for b in ids[i + 1:]]
        for ours, ref in zip(c["full"]["pairs"], pairs):
            compare("representation", f"mmd2 pair {ours['a']}-{ours['b']}", ours["mmd2"], ref)
        compare("representation", "mmd2 (max pair)", c["full"]["mmd2"], max(pairs))
        compare("representation", "mmd2Mean", c["full"]["mmd2Mean"], np.mean(pairs))
        compare("representation", "silhouette", c["silhouette"], silhouette_score(z, g))
        compare("representation", "silhouette (analysis)", c["full"]["silhouette"], silhouette_score(z[known], g[known]))

    for c in cases["bootstrap"]:
        y, p, g = np.array(c["yTrue"]), np.array(c["yPred"]), np.array(c["group"])
        subj = np.array(c["subject"])
        maes, gaps = [], []
        for rep in c["replicates"]:
            idx = np.array(rep)
            # whole subjects only, and the same number of subjects per group as the data
            drawn = [s for s in subj[idx]]
            for s in set(drawn):
                assert drawn.count(s) % int((subj == s).sum()) == 0, "replicate splits a subject"
            maes.append(mean_absolute_error(y[idx], p[idx]))
            gm = [mean_absolute_error(y[idx][g[idx] == k], p[idx][g[idx] == k]) for k in group_ids(g[idx])]
            gaps.append(max(gm) - min(gm))
        a = c["alpha"]
        for name, vals in (("mae", maes), ("maeGap", gaps)):
            lo, hi = np.percentile(vals, [100 * a / 2, 100 * (1 - a / 2)])
            compare("bootstrap", f"{name}.lo", c["ci"][name]["lo"], lo)
            compare("bootstrap", f"{name}.hi", c["ci"][name]["hi"], hi)

    for c in cases["seeds"]:
        for k in ("mae", "gap"):
            v = np.array([r[k] for r in c["runs"]])
            compare("seeds", f"{k}.mean", c["result"][k]["mean"], v.mean())
            compare("seeds", f"{k}.std", c["result"][k]["std"], v.std(ddof=1))

    for c in cases["paired"]:
        d = np.array(c["diffs"], float)
        n = len(d)
        w = c["wilcoxon"]
        nz = d[d != 0]
        ranks = stats.rankdata(np.abs(nz))
        ties = len(np.unique(ranks)) < len(ranks)
        if len(nz) > 0:
            with pywarnings.catch_warnings():
                pywarnings.simplefilter("ignore")
                ref = stats.wilcoxon(d)  # defaults: zero_method='wilcox', correction=False, two-sided, method='auto'
            compare("wilcoxon", "statistic (scipy.stats.wilcoxon)", w["statistic"], ref.statistic)
            if len(nz) == n and not ties and n <= 50:
                # scipy's exact null (method 'auto' picks it for n <= 50 without zeros)
                compare("wilcoxon", f"p exact n={n} (scipy.stats.wilcoxon)", w["p"], ref.pvalue)
            elif len(nz) <= 20:
                # zeros or ties: scipy switches to the normal approximation; the exact conditional
                # null is the permutation distribution of W+ over all sign patterns of the mid-ranks
                def wplus(x, axis=-1):
                    return np.sum((x > 0) * ranks, axis=axis)
                perm = stats.permutation_test((nz,), wplus, permutation_type="samples", n_resamples=np.inf, vectorized=True)
                compare("wilcoxon", f"p exact n'={len(nz)} ties/zeros (scipy permutation_test on W+)", w["p"], perm.pvalue)
            # every case: the exact null of W+ by convolving the doubled (integer) mid-ranks
            dist = np.array([1.0])
            for r in np.rint(2 * ranks).astype(int):
                step = np.zeros(r + 1)
                step[0] = step[r] = 0.5
                dist = np.convolve(dist, step)
            total2 = int(np.rint(2 * ranks.sum()))
            obs = abs(2 * int(np.rint(2 * np.sum(ranks[nz > 0]))) - total2)
            s_idx = np.arange(len(dist))
            compare("wilcoxon", f"p exact n'={len(nz)} (numpy convolution)", w["p"], min(1.0, dist[np.abs(2 * s_idx - total2) >= obs].sum()))
        else:
            compare("wilcoxon", "p all zeros", w["p"], np.nan)
        if "signFlip" not in c:
            continue
        sf = c["signFlip"]
        perm = stats.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=np.inf, vectorized=True, alternative="two-sided")
        compare("sign-flip", f"p n={n} (scipy permutation_test)", sf["p"], perm.pvalue)
        if c["scale"] is not None:
            # exact integer enumeration of all 2^n sign patterns
            k = [int(round(x * c["scale"])) for x in d]
            t = abs(sum(k))
            hits = sum(1 for signs in itertools.product((1, -1), repeat=n) if abs(sum(s * x for s, x in zip(signs, k))) >= t)
            compare("sign-flip", f"p n={n} (integer enumeration)", sf["p"], hits / 2 ** n)
        compare("sign-flip", "smallest attainable p", sf["minAttainableP"], min(1.0, 2.0 ** (1 - np.count_nonzero(d))) if np.count_nonzero(d) else 1.0)
        x, y = np.array(c["method"]), np.array(c["baseline"])
        dd = x - y
        cm = c["compare"]
        compare("paired", "mean difference", cm["mean"], dd.mean())
        compare("paired", "sd of differences (ddof=1)", cm["std"], dd.std(ddof=1) if n > 1 else np.nan)
        sd = dd.std(ddof=1) if n > 1 else np.nan
        compare("paired", "Cohen d_z", cm["dz"], dd.mean() / sd if n > 1 and sd > 0 else np.nan)
        compare("paired", "relative change %", cm["relativePercent"], 100 * dd.mean() / abs(y.mean()))
        means = [dd[np.array(rep)].mean() for rep in c["replicates"]]
        lo, hi = np.percentile(means, [2.5, 97.5]) if means else (np.nan, np.nan)
        compare("paired", "bootstrap CI lo (pairs resampled)", c["ci"]["lo"], lo)
        compare("paired", "bootstrap CI hi (pairs resampled)", c["ci"]["hi"], hi)
        compare("paired", "bootstrap CI lo (comparePaired)", cm["ci"]["lo"], lo)
        compare("paired", "bootstrap CI hi (comparePaired)", cm["ci"]["hi"], hi)

    for c in cases["holm"]:
        p = np.array([np.nan if v is None else v for v in c["p"]])
        ok = ~np.isnan(p)
        ref = np.full(len(p), np.nan)
        if ok.any():
            # statsmodels.stats.multitest.multipletests(method='holm'): sort ascending,
            # (k - i) * p_(i) for i = 0..k-1, running maximum, capped at 1, back to input order
            pv = p[ok]
            order = np.argsort(pv, kind="mergesort")
            k = len(pv)
            adj_sorted = np.minimum(1, np.maximum.accumulate((k - np.arange(k)) * pv[order]))
            adj = np.empty(k)
            adj[order] = adj_sorted
            ref[ok] = adj
        for i, (ours, r) in enumerate(zip(c["adjusted"], ref)):
            compare("holm", f"adjusted p[{i}]", ours, r)

    for c in cases["pareto"]:
        pts = [(q["x"], q["y"]) for q in c["points"]]
        front = [i for i, (x, y) in enumerate(pts)
                 if not any(j != i and a <= x and b <= y and (a < x or b < y) for j, (a, b) in enumerate(pts))]
        front.sort(key=lambda i: (pts[i][0], pts[i][1], i))
        compare("pareto", "front matches brute force (0/1)", 0 if front == c["front"] else 1, 0)

    for c in cases.get("agreement", []):
        y, p, g, subj = (np.array(c[k], float) for k in ("yTrue", "yPred", "group", "subject"))
        r = c["result"]
        bias, sd, lo, hi = bland_altman(y, p)
        for name, ours, ref in (("bias", r["bias"], bias), ("sd (ddof=1)", r["sd"], sd), ("loaLower", r["loaLower"], lo), ("loaUpper", r["loaUpper"], hi),
                                ("blandAltman.bias", c["blandAltman"]["bias"], bias), ("blandAltman.loaUpper", c["blandAltman"]["loaUpper"], hi)):
            compare("agreement", name, ours, ref)
        smae, _ = subject_mae(y, p, subj)
        compare("agreement", "subjectMae", r["subjectMae"], smae)
        compare("agreement", "subjectWeightedMae()", c["subjectMae"], smae)
        ids = group_ids(g)
        maes, smaes = [], []
        for ours, k in zip(r["groups"], ids):
            m = g == k
            gb, gsd, glo, ghi = bland_altman(y[m], p[m])
            gs, gn = subject_mae(y[m], p[m], subj[m])
            maes.append(mean_absolute_error(y[m], p[m]))
            smaes.append(gs)
            compare("agreement", f"group{k}.bias", ours["bias"], gb)
            compare("agreement", f"group{k}.sd", ours["sd"], gsd)
            compare("agreement", f"group{k}.loaLower", ours["loaLower"], glo)
            compare("agreement", f"group{k}.loaUpper", ours["loaUpper"], ghi)
            compare("agreement", f"group{k}.subjectMae", ours["subjectMae"], gs)
            compare("agreement", f"group{k}.subjects", ours["subjects"], gn)
        compare("agreement", "subjectMaeGap", r["subjectMaeGap"], spread(smaes))
        eligible = set(c["gapGroups"])
        compare("agreement", "maeGap over eligible groups", c["gapped"]["maeGap"], eligible_spread(maes, ids, eligible))
        compare("agreement", "subjectMaeGap over eligible groups", c["gapped"]["subjectMaeGap"], eligible_spread(smaes, ids, eligible))

    for c in cases.get("strata", []):
        y, p, g, subj = (np.array(c[k], float) for k in ("yTrue", "yPred", "group", "subject"))
        d = p - y
        res = c["result"]
        if c["kind"] == "bins":
            stratum = np.digitize(y, c["edges"], right=False)
            compare("strata", "bin index mismatches (np.digitize)", int(np.sum(stratum != np.array(c["bins"]))), 0)
        else:
            act = np.array([np.nan if a is None else a for a in c["activity"]], float)
            codes = sorted(set(act[~np.isnan(act)].tolist()))
            compare("strata", "activity codes mismatch", 0 if codes == c["codes"] else 1, 0)
            stratum = np.array([codes.index(a) if not np.isnan(a) else -1 for a in act])
        names = res["strata"]

        def cells(mask):
            out = []
            for k in range(len(names)):
                m = mask & (stratum == k)
                n = int(m.sum())
                out.append((n, len(np.unique(subj[m])), np.abs(d[m]).mean() if n else np.nan, d[m].mean() if n else np.nan))
            return out

        ref_overall = cells(np.ones(len(y), bool))
        if c["kind"] == "bins":
            # scipy's binned_statistic as a second reference for the per-bin MAE (finite outer edges)
            outer = [min(y.min(), c["edges"][0]) - 1] + list(c["edges"]) + [max(y.max(), c["edges"][-1]) + 1]
            stat = stats.binned_statistic(y, np.abs(d), statistic="mean", bins=outer).statistic
            for k, name in enumerate(names):
                compare("strata", f"overall {name} mae (binned_statistic)", res["overall"][name]["mae"], stat[k])
        for k, name in enumerate(names):
            ours = res["overall"][name]
            n, ns, mae, bias = ref_overall[k]
            compare("strata", f"overall {name} n", ours["n"], n)
            compare("strata", f"overall {name} subjects", ours["subjects"], ns)
            compare("strata", f"overall {name} mae", ours["mae"], mae)
            compare("strata", f"overall {name} bias", ours["bias"], bias)
        ids = group_ids(g)
        by_group = {k: cells(g == k) for k in ids}
        for k in ids:
            for j, name in enumerate(names):
                ours = res["groups"][str(k)][name]
                n, ns, mae, bias = by_group[k][j]
                compare("strata", f"group{k} {name} n", ours["n"], n)
                compare("strata", f"group{k} {name} subjects", ours["subjects"], ns)
                compare("strata", f"group{k} {name} mae", ours["mae"], mae)
                compare("strata", f"group{k} {name} bias", ours["bias"], bias)
        for j, name in enumerate(names):
            ok = [by_group[k][j][2] for k in ids if by_group[k][j][0] > 0 and by_group[k][j][1] >= c["minSubjects"]]
            compare("strata", f"maeGap {name} (cells with >= {c['minSubjects']} subjects)", res["maeGap"][name], max(ok) - min(ok) if len(ok) >= 2 else np.nan)

    for c in cases.get("subjectBootstrap", []):
        y, p, g, subj = (np.array(c[k], float) for k in ("yTrue", "yPred", "group", "subject"))
        smaes, gaps, his = [], [], []
        for rep in c["replicates"]:
            idx, draws = np.array(rep["samples"]), np.array(rep["draws"])
            for dr in np.unique(draws):
                members = idx[draws == dr]
                s0 = subj[members[0]]
                assert np.all(subj[members] == s0) and len(members) == int((subj == s0).sum()), "a draw is not one whole subject"
            smaes.append(subject_mae(y[idx], p[idx], draws)[0])
            gm = [subject_mae(y[idx][g[idx] == k], p[idx][g[idx] == k], draws[g[idx] == k])[0] for k in group_ids(g[idx])]
            gaps.append(max(gm) - min(gm))
            his.append(bland_altman(y[idx], p[idx])[3])
        a = c["alpha"]
        for name, vals in (("subjectMae", smaes), ("subjectMaeGap", gaps), ("loaUpper", his)):
            lo, hi = np.percentile(vals, [100 * a / 2, 100 * (1 - a / 2)])
            compare("bootstrap-subj", f"{name}.lo", c["ci"][name]["lo"], lo)
            compare("bootstrap-subj", f"{name}.hi", c["ci"][name]["hi"], hi)

    overall = max(worst.values())
    for family, d in worst.items():
        print(f"{family:15s} largest |ours - reference| = {d:.3g} ({counts[family]} values)")
    print(f"overall largest absolute difference: {overall:.3g} (tolerance {TOL:g})")
    sys.exit(0 if overall <= TOL else 1)


if __name__ == "__main__":
    main(sys.argv[1])
