"""Optuna's side of the TPE oracle (scripts/oracle-tpe.ts): reads cases as JSON on stdin, feeds
each history to an Optuna study with `add_trial`, and writes, per case, Optuna's below/above
split and the parameters of the Parzen estimators l(x) and g(x) that TPESampler builds for each
param (univariate) or for the joint space (multivariate). Works with Optuna 3.1 (Debian 12's
python3-optuna) and 3.2+ (whose estimator keeps a `_mixture_distribution`).

The estimators are captured by wrapping the sampler's `_ParzenEstimator` class and calling the
sampler itself, so the glue (which trials, which order, which weights) is Optuna's own.
"""

import json
import math
import sys
import warnings

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers._tpe import sampler as tpe_module
from optuna.trial import TrialState, create_trial

warnings.filterwarnings("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)


def to_dist(d):
    if d["type"] == "categorical":
        return CategoricalDistribution(d["choices"])
    if d["type"] == "int":
        return IntDistribution(d["low"], d["high"], log=d["log"], step=d["step"])
    return FloatDistribution(d["low"], d["high"], log=d["log"], step=d.get("step"))


def num(x):
    """JSON-safe float."""
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def describe_estimator(pe, names):
    out = {"weights": [num(w) for w in pe_weights(pe)], "params": {}}
    for i, name in enumerate(names):
        out["params"][name] = describe_param(pe, name, i)
    return out


def pe_weights(pe):
    if hasattr(pe, "_mixture_distribution"):
        return pe._mixture_distribution.weights
    return pe._weights


def describe_param(pe, name, i):
    if hasattr(pe, "_mixture_distribution"):  # Optuna >= 3.2
        d = pe._mixture_distribution.distributions[i]
        if hasattr(d, "mu"):
            return {"mus": [num(v) for v in d.mu], "sigmas": [num(v) for v in d.sigma]}
        return {"rows": [[num(v) for v in row] for row in d.weights]}
    if pe._categorical_weights.get(name) is not None:  # Optuna 3.1
        return {"rows": [[num(v) for v in row] for row in pe._categorical_weights[name]]}
    return {
        "mus": [num(v) for v in pe._mus[name]],
        "sigmas": [num(v) for v in pe._sigmas[name]],
        "low": num(pe._low[name]),
        "high": num(pe._high[name]),
    }


def adapted_bounds(dist):
    """Truncation range of a numerical param in the transformed space (range +- step/2, then log)."""
    low, high = float(dist.low), float(dist.high)
    if dist.step is not None:
        low -= dist.step / 2
        high += dist.step / 2
    if dist.log:
        low, high = math.log(low), math.log(high)
    return low, high


def reference_log_pdf(described, names, space, points, scale_term=True):
    """log l(x) of the mixture with Optuna's kernel parameters, computed independently with SciPy's
    truncnorm (with the -log(sigma) term of Optuna >= 3.5 when scale_term, without it as Optuna
    3.1-3.4's own log_pdf otherwise, and for stepped params the mass of [x - step/2, x + step/2], in
    log space for log ints as Optuna >= 4.7)."""
    from scipy.special import logsumexp
    from scipy.stats import truncnorm

    weights = np.array([float(w) for w in described["weights"]])
    total = np.tile(np.log(weights), (len(points), 1))
    for i, name in enumerate(names):
        dist = space[name]
        p = described["params"][name]
        xs = np.array([pt[i] for pt in points], dtype=object)
        if "rows" in p:
            rows = np.array(p["rows"], dtype=float)
            idx = np.array([dist.choices.index(x) for x in xs])
            total += np.log(rows[:, idx].T)
            continue
        mus = np.array(p["mus"], dtype=float)
        sig = np.array(p["sigmas"], dtype=float)
        low, high = adapted_bounds(dist)
        a, b = (low - mus) / sig, (high - mus) / sig
        xs = xs.astype(float)
        if dist.step is None:
            t = np.log(xs) if dist.log else xs
            total += truncnorm.logpdf(t[:, None], a[None, :], b[None, :], loc=mus[None, :], scale=sig[None, :])
            if not scale_term:
                total += np.log(sig)[None, :]
        else:
            left, right = xs - dist.step / 2, xs + dist.step / 2
            if dist.log:
                left, right = np.log(left), np.log(right)
            cdf = lambda v: truncnorm.cdf(v[:, None], a[None, :], b[None, :], loc=mus[None, :], scale=sig[None, :])
            total += np.log(cdf(right) - cdf(left))
    return [num(v) for v in logsumexp(total, axis=1)]


def build_study(case):
    direction = case["direction"]
    study = optuna.create_study(direction=direction)
    space = {k: to_dist(v) for k, v in case["space"].items()}
    for t in case["trials"]:
        params = t["params"]
        state = TrialState[t["state"]]
        inter = {int(k): (float("nan") if v == "NaN" else float(v)) for k, v in t.get("intermediate", {}).items()}
        kwargs = dict(
            params=params,
            distributions={k: space[k] for k in params},
            intermediate_values=inter,
            state=state,
        )
        if state == TrialState.COMPLETE:
            kwargs["value"] = t["value"]
        study.add_trial(create_trial(**kwargs))
    return study, space


def split_numbers(study, sampler, names, constant_liar, current):
    """Optuna's below/above split of the history, as trial numbers."""
    if hasattr(tpe_module, "_get_observation_pairs"):  # 3.1
        states = (TrialState.COMPLETE, TrialState.PRUNED) + ((TrialState.RUNNING,) if constant_liar else ())
        trials = study.get_trials(deepcopy=False, states=states)
        values, scores, violations = tpe_module._get_observation_pairs(study, names, constant_liar)
        n = sum(s < float("inf") for s, v in scores)
        below, above = tpe_module._split_observation_pairs(scores, sampler._gamma(n), violations)
        return [trials[i].number for i in below], [trials[i].number for i in above]
    states = [TrialState.COMPLETE, TrialState.PRUNED] + ([TrialState.RUNNING] if constant_liar else [])
    trials = study.get_trials(deepcopy=False, states=states)
    trials = [t for t in trials if t.number != current]
    n = sum(t.state != TrialState.RUNNING for t in trials)
    gamma = sampler._gamma or tpe_module.default_gamma
    try:
        below, above = tpe_module._split_trials(study, trials, gamma(n))
    except TypeError:
        below, above = tpe_module._split_trials(study, trials, gamma(n), False)
    return [t.number for t in below], [t.number for t in above]


class Recorder:
    def __init__(self):
        self.instances = []

    def wrap(self, base):
        recorder = self

        class Recording(base):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                recorder.instances.append(self)

        return Recording


def install(sampler, recorder):
    original = tpe_module._ParzenEstimator
    cls = recorder.wrap(original)
    if hasattr(sampler, "_parzen_estimator_cls"):
        sampler._parzen_estimator_cls = cls
    tpe_module._ParzenEstimator = cls
    return original


def run_case(case):
    study, space = build_study(case)
    o = case["options"]
    kwargs = dict(seed=0, n_startup_trials=o["nStartupTrials"], constant_liar=o["constantLiar"], multivariate=o["multivariate"])
    sampler = optuna.samplers.TPESampler(**kwargs)
    study.sampler = sampler
    trial = study.ask()
    frozen = study._storage.get_trial(trial._trial_id)
    out = {"name": case["name"], "version": optuna.__version__, "params": {}}
    recorder = Recorder()
    original = install(sampler, recorder)
    try:
        if o["multivariate"]:
            rel = sampler.infer_relative_search_space(study, frozen)
            names = list(rel.keys())
            out["relativeNames"] = names
            below, above = split_numbers(study, sampler, names, o["constantLiar"], frozen.number)
            out["below"], out["above"] = below, above
            recorder.instances.clear()
            sampler.sample_relative(study, frozen, rel)
            l, g = recorder.instances[:2]
            out["joint"] = {"below": describe_estimator(l, names), "above": describe_estimator(g, names)}
            pts = [[pt[n] for n in names] for pt in case["jointPoints"]]
            for key in ("below", "above"):
                out["joint"][key]["logPdf"] = reference_log_pdf(out["joint"][key], names, space, pts, o.get("kernelScaleTerm", True))
        else:
            first = sorted(space)[0]
            below, above = split_numbers(study, sampler, [first], o["constantLiar"], frozen.number)
            out["below"], out["above"] = below, above
            for name in sorted(space):
                recorder.instances.clear()
                sampler.sample_independent(study, frozen, name, space[name])
                l, g = recorder.instances[:2]
                out["params"][name] = {"below": describe_estimator(l, [name]), "above": describe_estimator(g, [name])}
                pts = [[v] for v in case["points"][name]]
                for key in ("below", "above"):
                    out["params"][name][key]["logPdf"] = reference_log_pdf(out["params"][name][key], [name], space, pts, o.get("kernelScaleTerm", True))
    finally:
        tpe_module._ParzenEstimator = original
    return out


def main():
    cases = json.load(sys.stdin)
    json.dump([run_case(c) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()
