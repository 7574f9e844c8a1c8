"""Optuna's side of bench:quality (docs/experiments.md, "2026-12-04 — TPE against Optuna 3.1"):
TPESampler(seed=s) with its defaults on mask+lr, Branin, Hartmann-6 and Styblinski-Tang-5, driven
by ask / suggest / tell. The sampler's time per trial is study.ask() plus the suggest calls (the
objective and tell excluded), averaged over the last 50 trials.
Usage: bench_quality.py SEEDS TRIALS CHECKPOINTS (comma-separated). Prints JSON."""

import json
import math
import sys
import time
import warnings

import optuna

warnings.filterwarnings("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)

TARGET = [1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0]
H_ALPHA = [1.0, 1.2, 3.0, 3.2]
H_A = [
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
]
H_P = [[v * 1e-4 for v in row] for row in [
    [1312, 1696, 5569, 124, 8283, 5886],
    [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650],
    [4047, 8828, 8732, 5743, 1091, 381],
]]


def suggest_mask_lr(trial):
    bits = [trial.suggest_int(f"mask_{i:02d}", 0, 1) for i in range(12)]
    lr = trial.suggest_float("lr", 1e-5, 1e-2, log=True)
    return bits, lr


def eval_mask_lr(p):
    bits, lr = p
    loss = 0.0
    for i, b in enumerate(bits):
        loss += b != TARGET[i]
        if i > 0 and b == 1 and bits[i - 1] == 1:
            loss += 0.75
    return loss + (math.log10(lr) + 3.5) ** 2


def suggest_branin(trial):
    return trial.suggest_float("x", -5, 10), trial.suggest_float("y", 0, 15)


def eval_branin(p):
    x, y = p
    b = 5.1 / (4 * math.pi ** 2)
    c = 5 / math.pi
    return (y - b * x * x + c * x - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x) + 10


def suggest_hartmann6(trial):
    return [trial.suggest_float(f"x{j}", 0, 1) for j in range(6)]


def eval_hartmann6(x):
    f = 0.0
    for i in range(4):
        s = sum(H_A[i][j] * (x[j] - H_P[i][j]) ** 2 for j in range(6))
        f -= H_ALPHA[i] * math.exp(-s)
    return f


def suggest_st5(trial):
    return [trial.suggest_float(f"x{j}", -5, 5) for j in range(5)]


def eval_st5(x):
    return sum(v ** 4 - 16 * v * v + 5 * v for v in x) / 2


PROBLEMS = [
    ("mask+lr", suggest_mask_lr, eval_mask_lr),
    ("branin", suggest_branin, eval_branin),
    ("hartmann6", suggest_hartmann6, eval_hartmann6),
    ("styblinski-tang5", suggest_st5, eval_st5),
]


def run(suggest, evaluate, seed, trials, checkpoints):
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    times, best, best_value = [], [], math.inf
    for i in range(trials):
        t0 = time.perf_counter()
        trial = study.ask()
        params = suggest(trial)
        times.append(time.perf_counter() - t0)
        value = evaluate(params)
        study.tell(trial, value)
        best_value = min(best_value, value)
        if i + 1 in checkpoints:
            best.append(best_value)
    tail = times[-50:]
    return best, 1000 * sum(tail) / len(tail)


def main():
    seeds, trials = int(sys.argv[1]), int(sys.argv[2])
    checkpoints = [int(c) for c in sys.argv[3].split(",") if c]
    # Optional: the first seed (a follow-up uses seeds never run before) and a problem subset.
    seed_start = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    wanted = set(sys.argv[5].split(",")) if len(sys.argv) > 5 and sys.argv[5] else None
    problems = [p for p in PROBLEMS if wanted is None or p[0] in wanted]
    for _, suggest, evaluate in problems:  # warm-up, unrecorded
        run(suggest, evaluate, 999, 30, [])
    out = {"version": optuna.__version__, "problems": {}}
    for name, suggest, evaluate in problems:
        best = [[] for _ in checkpoints]
        times = []
        for seed in range(seed_start, seed_start + seeds):
            b, t = run(suggest, evaluate, seed, trials, checkpoints)
            for ci, v in enumerate(b):
                best[ci].append(v)
            times.append(t)
        out["problems"][name] = {"best": best, "timeMs": times}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
