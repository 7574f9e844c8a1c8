"""Reference side of the metrics cross-check (see crosscheck_metrics.ts).

Recomputes every metric of the cases file with scikit-learn where it has the metric
(mean_absolute_error, mean_squared_error, roc_auc_score, accuracy_score, confusion_matrix,
silhouette_score) and NumPy transcriptions of fairlearn's definitions, the unbiased RBF MMD^2,
the top-label ECE, percentile intervals and seed aggregation; prints the largest absolute
difference per metric family and overall, and exits 1 if any exceeds the tolerance.
"""
import json
import sys

import numpy as np
from sklearn.metrics import (accuracy_score, confusion_matrix, mean_absolute_error,
                             mean_squared_error, roc_auc_score, silhouette_score)

TOL = 1e-9
worst = {}


def compare(family, name, ours, ref):
    ours = np.nan if ours is None else float(ours)
    ref = float(ref)
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

    overall = max(worst.values())
    for family, d in worst.items():
        print(f"{family:15s} largest |ours - reference| = {d:.3g}")
    print(f"overall largest absolute difference: {overall:.3g} (tolerance {TOL:g})")
    sys.exit(0 if overall <= TOL else 1)


if __name__ == "__main__":
    main(sys.argv[1])
