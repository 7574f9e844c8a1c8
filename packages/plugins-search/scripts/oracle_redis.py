"""Python side of the Redis journal oracle (src/storage/redis-oracle.spec.ts runs it; needs python3-optuna and python3-redis).

  oracle_redis.py add <url> <prefix> <study> <n>    add n trials with Optuna 3.1's JournalRedisStorage (ask/suggest/report/tell):
                                                    COMPLETE ones, one PRUNED, one FAIL; prints their numbers
  oracle_redis.py dump <url> <prefix> <study>       optuna.load_study on Redis: every trial's number, state, params (with their
                                                    Python type), values, intermediate values, user and system attrs
Every command prints one JSON line (Python's json: NaN and Infinity as bare tokens).
"""
import json
import sys
import warnings

import optuna

optuna.logging.set_verbosity(optuna.logging.ERROR)
warnings.simplefilter("ignore")


def storage(url, prefix):
    return optuna.storages.JournalStorage(optuna.storages.JournalRedisStorage(url, prefix=prefix))


def add(url, prefix, name, n):
    study = optuna.load_study(study_name=name, storage=storage(url, prefix), sampler=optuna.samplers.RandomSampler(seed=7))
    numbers = []
    for i in range(n):
        trial = study.ask()
        x = trial.suggest_float("x", -1.0, 1.0)
        lr = trial.suggest_float("lr", 1e-5, 1e-3, log=True)
        k = trial.suggest_int("n", 1, 8)
        c = trial.suggest_categorical("c", ["a", None, 1.5, True])
        trial.set_user_attr("writer", "python")
        for step in range(3):
            trial.report(x * step + lr, step)
        numbers.append(trial.number)
        if i == 0:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif i == 1:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(trial, x + k + (0.5 if c is None else 0.0))
    print(json.dumps(numbers))


def dump(url, prefix, name):
    study = optuna.load_study(study_name=name, storage=storage(url, prefix))
    out = []
    for t in study.get_trials(deepcopy=False):
        out.append({
            "number": t.number,
            "state": t.state.name,
            "params": t.params,
            "types": {k: type(v).__name__ for k, v in t.params.items()},
            "values": t.values,
            "intermediate_values": [[s, v] for s, v in sorted(t.intermediate_values.items())],
            "user_attrs": t.user_attrs,
            "system_attrs": t.system_attrs,
        })
    print(json.dumps({"direction": study.direction.name, "trials": out}))


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "add":
        add(args[0], args[1], args[2], int(args[3]))
    elif cmd == "dump":
        dump(*args)
    else:
        sys.exit(f"unknown command {cmd}")
