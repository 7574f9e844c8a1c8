"""Optuna's side of bench:tpe: TPESampler's time per trial on the mask+lr problem (12 int bits
and a log-uniform lr; the objective is trivial, so the time is the sampler's and the study's).
Usage: bench_tpe.py TRIALS SEEDS [multivariate]. Prints JSON."""

import json
import math
import sys
import time
import warnings

import optuna

warnings.filterwarnings("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)
TARGET = [1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0]


def objective(trial):
    bits = [trial.suggest_int(f"mask_{i:02d}", 0, 1) for i in range(12)]
    lr = trial.suggest_float("lr", 1e-5, 1e-2, log=True)
    loss = 0.0
    for i, b in enumerate(bits):
        loss += b != TARGET[i]
        if i > 0 and b == 1 and bits[i - 1] == 1:
            loss += 0.75
    return loss + (math.log10(lr) + 3.5) ** 2


def main():
    trials, seeds = int(sys.argv[1]), int(sys.argv[2])
    multivariate = len(sys.argv) > 3 and sys.argv[3] == "multivariate"
    totals, lasts, bests = [], [], []
    for seed in range(seeds):
        kwargs = {"seed": seed, "multivariate": multivariate}
        if optuna.__version__.startswith("5"):
            kwargs["constant_liar"] = False
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(**kwargs))
        stamps = []
        start = time.perf_counter()
        study.optimize(objective, n_trials=trials, callbacks=[lambda s, t: stamps.append(time.perf_counter())])
        totals.append((stamps[-1] - start) / trials)
        lasts.append((stamps[-1] - stamps[-51]) / 50)
        bests.append(study.best_value)
    print(json.dumps({"version": optuna.__version__, "perTrial": sum(totals) / seeds, "last50": sum(lasts) / seeds, "best": sum(bests) / seeds}))


if __name__ == "__main__":
    main()
