"""Python side of the journal and pruner oracle (scripts/oracle-journal.ts runs it; needs python3-optuna).

  oracle_journal.py check <journal> <study> <expected.json>   load the study with Optuna, compare with what TypeScript wrote
  oracle_journal.py add <journal> <study> <out.json>          add trials with Optuna (ask/suggest/report/should_prune/tell), dump every trial
  oracle_journal.py write <journal> <study> <n> <lock>        n trials as fast as possible (lock: open | symlink), for the concurrent test
  oracle_journal.py count <journal> <study>                   number and states of the study's trials
  oracle_journal.py pruners <out.json>                        decision sequences of Optuna's pruners on seeded histories
  oracle_journal.py numerics <out.json>                       math.log brackets, crc32, float repr, numpy nanpercentile
Every command prints one JSON line.
"""
import binascii
import json
import math
import random
import sys
import warnings

import numpy as np
import optuna

optuna.logging.set_verbosity(optuna.logging.ERROR)
warnings.simplefilter("ignore")

STATES = {s.name: s for s in optuna.trial.TrialState}


def storage(path, lock="open"):
    lock_obj = optuna.storages.JournalFileOpenLock(path) if lock == "open" else optuna.storages.JournalFileSymlinkLock(path)
    return optuna.storages.JournalStorage(optuna.storages.JournalFileStorage(path, lock_obj=lock_obj))


def dist_json(d):
    return json.loads(optuna.distributions.distribution_to_json(d))


def same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and not isinstance(a, bool):
        return a == b and type(a) is type(b)  # 1 and 1.0 differ: a float must be written as a float
    return a == b and type(a) is type(b)


def dump_trial(t):
    return {
        "number": t.number,
        "state": t.state.name,
        "params": t.params,
        "param_types": {k: type(v).__name__ for k, v in t.params.items()},
        "distributions": {k: dist_json(d) for k, d in t.distributions.items()},
        "values": t.values,
        "intermediate_values": {str(k): v for k, v in t.intermediate_values.items()},
        "user_attrs": t.user_attrs,
        "system_attrs": t.system_attrs,
        "datetime_start": t.datetime_start.isoformat() if t.datetime_start else None,
        "datetime_complete": t.datetime_complete.isoformat() if t.datetime_complete else None,
    }


def check(path, name, expected_path):
    with open(expected_path) as f:
        expected = json.load(f)
    study = optuna.load_study(study_name=name, storage=optuna.storages.JournalStorage(optuna.storages.JournalFileStorage(path)))
    problems = []
    if study.direction.name.lower() != expected["direction"]:
        problems.append(f"direction {study.direction.name} != {expected['direction']}")
    if not same(study.user_attrs, expected["user_attrs"]):
        problems.append(f"study user_attrs {study.user_attrs!r} != {expected['user_attrs']!r}")
    if not same(study.system_attrs, expected["system_attrs"]):
        problems.append(f"study system_attrs {study.system_attrs!r} != {expected['system_attrs']!r}")
    trials = study.get_trials(deepcopy=False)
    if len(trials) != len(expected["trials"]):
        problems.append(f"{len(trials)} trials != {len(expected['trials'])}")
    compared = 0
    for t, e in zip(trials, expected["trials"]):
        got = dump_trial(t)
        e = dict(e, distributions={k: json.loads(v) for k, v in e["distributions"].items()})
        for key in ("number", "state", "params", "distributions", "values", "intermediate_values", "user_attrs", "system_attrs"):
            if not same(got[key], e[key]):
                problems.append(f"trial {t.number} {key}: optuna {got[key]!r} != written {e[key]!r}")
            compared += 1
        for k, typ in e["param_types"].items():
            if got["param_types"].get(k) != typ:
                problems.append(f"trial {t.number} param {k}: python type {got['param_types'].get(k)} != {typ}")
        for key in ("datetime_start", "datetime_complete"):
            if (got[key] is None) != (e[key] is None):
                problems.append(f"trial {t.number} {key}: {got[key]!r} vs {e[key]!r}")
    return {"ok": not problems, "problems": problems, "trials": len(trials), "fields_compared": compared}


def add(path, name, out_path):
    study = optuna.load_study(study_name=name, storage=storage(path, "open"), pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=1))
    rng = random.Random(7)
    study.enqueue_trial({"x": 0.5, "lr": 1e-4, "n": 2, "c": "a"})  # becomes RUNNING when asked
    created = []
    for i in range(6):
        # Successive halving for the first two (rung attrs, a prune); none after, so that every state is written.
        study.pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1) if i < 2 else optuna.pruners.NopPruner()
        t = study.ask()
        created.append(t.number)
        t.suggest_float("x", -1.0, 1.0)
        t.suggest_float("lr", 1e-5, 1e-3, log=True)
        t.suggest_int("n", 1, 8)
        t.suggest_categorical("c", ["a", None, 1.5, True])
        t.set_user_attr("from", "python")
        state = None
        for step in range(6):
            v = rng.random() if i != 3 else float("nan")
            t.report(v, step)
            if t.should_prune():
                state = "PRUNED"
                break
        if state == "PRUNED" or i == 3:  # trial 3 reported NaNs only: pruned without a value
            study.tell(t, state=optuna.trial.TrialState.PRUNED)
        elif i == 4:
            study.tell(t, state=optuna.trial.TrialState.FAIL)
        elif i == 5:
            pass  # left RUNNING
        else:
            study.tell(t, rng.random())
    study.enqueue_trial({"x": 0.25})  # left WAITING
    study.set_user_attr("python_was_here", [1, 2.5, None])
    trials = [dump_trial(t) for t in study.get_trials(deepcopy=False)]
    with open(out_path, "w") as f:
        json.dump({"created": created, "trials": trials, "user_attrs": study.user_attrs}, f)
    return {"ok": True, "created": created}


def write(path, name, n, lock):
    study = optuna.load_study(study_name=name, storage=storage(path, lock), pruner=optuna.pruners.NopPruner())
    mine = []
    for i in range(int(n)):
        t = study.ask()
        mine.append(t.number)
        t.set_user_attr("writer", f"py-{lock}")
        t.set_user_attr("i", i)
        t.suggest_int("i", 0, 1000)
        t.report(i, 0)
        study.tell(t, i / 4)
    return {"ok": True, "mine": mine}


def count(path, name):
    study = optuna.load_study(study_name=name, storage=storage(path))
    states = {}
    for t in study.get_trials(deepcopy=False):
        states[t.state.name] = states.get(t.state.name, 0) + 1
    return {"ok": True, "trials": len(study.trials), "states": states, "numbers": [t.number for t in study.trials]}


def pruner_cases():
    SH = optuna.pruners.SuccessiveHalvingPruner
    HB = optuna.pruners.HyperbandPruner
    MP = optuna.pruners.MedianPruner
    return [
        # name, direction, pruner, its params as the TypeScript plugin takes them, trials, steps, concurrent
        ("sh-default-auto", "minimize", SH(), ["successive-halving", {}], 40, 220, 3),
        ("sh-r1-eta3-s1-max", "maximize", SH(min_resource=1, reduction_factor=3, min_early_stopping_rate=1), ["successive-halving", {"minResource": 1, "reductionFactor": 3, "minEarlyStoppingRate": 1}], 40, 30, 4),
        ("sh-bootstrap", "minimize", SH(min_resource=2, reduction_factor=2, bootstrap_count=3), ["successive-halving", {"minResource": 2, "reductionFactor": 2, "bootstrapCount": 3}], 30, 20, 2),
        ("hyperband-default", "minimize", HB(), ["hyperband", {}], 60, 27, 3),
        ("hyperband-243", "maximize", HB(min_resource=1, max_resource=243, reduction_factor=3), ["hyperband", {"maxResource": 243}], 60, 40, 3),
        ("median-default", "minimize", MP(), ["median", {}], 40, 20, 3),
        ("median-warmup-interval", "maximize", MP(n_startup_trials=3, n_warmup_steps=2, interval_steps=3, n_min_trials=2), ["median", {"nStartupTrials": 3, "nWarmupSteps": 2, "intervalSteps": 3, "nMinTrials": 2}], 30, 20, 2),
    ]


def pruners(out_path):
    cases = []
    for name, direction, pruner, ts, n_trials, n_steps, concurrent in pruner_cases():
        rng = random.Random(binascii.crc32(name.encode()))
        study = optuna.create_study(study_name=f"oracle-{name}", direction=direction, pruner=pruner)
        events = []
        pending = []  # [trial, next step, last step, level]
        started = 0
        while started < n_trials or pending:
            while len(pending) < concurrent and started < n_trials:
                t = study.ask()
                events.append(["ask", t.number])
                steps = n_steps if rng.random() < 0.7 else rng.randint(1, n_steps)
                pending.append([t, 0, steps, rng.random()])
                started += 1
            i = rng.randrange(len(pending))
            t, step, steps, level = pending[i]
            r = rng.random()
            value = float("nan") if r < 0.02 else float("inf") if r < 0.03 else level + rng.gauss(0, 0.1) + (1.0 / (step + 1) if direction == "minimize" else -1.0 / (step + 1))
            # Sometimes skip steps (a late report passes several rungs).
            step = step + (rng.randint(1, 5) if rng.random() < 0.1 else 0)
            t.report(value, step)
            decision = bool(t.should_prune())
            events.append(["report", t.number, step, value, decision])
            if decision:
                study.tell(t, state=optuna.trial.TrialState.PRUNED)
                events.append(["tell", t.number, "PRUNED"])
                pending.pop(i)
            elif step + 1 >= steps:
                final = value if not math.isnan(value) else 0.0
                study.tell(t, final)
                events.append(["tell", t.number, "COMPLETE", final])
                pending.pop(i)
            else:
                pending[i][1] = step + 1
        rungs = [{k: v for k, v in t.system_attrs.items() if k.startswith("completed_rung_")} for t in study.get_trials(deepcopy=False)]
        cases.append({"name": name, "study": f"oracle-{name}", "direction": direction, "pruner": ts, "events": events, "rungs": rungs,
                      "pruned": sum(1 for e in events if e[0] == "report" and e[4])})
    with open(out_path, "w") as f:
        json.dump(cases, f)
    return {"ok": True, "cases": [(c["name"], len([e for e in c["events"] if e[0] == "report"]), c["pruned"]) for c in cases]}


def numerics(out_path):
    rng = random.Random(3)
    brackets = [[eta, lo, hi, math.floor(math.log(hi / lo, eta)) + 1] for eta in range(2, 7) for lo in (1, 2, 3) for hi in range(1, 800)]
    strings = [f"study-{rng.randint(0, 10**6)}_{i}" for i in range(300)] + ["étude_0", "研究_12", "a b_3"]
    crcs = [[s, binascii.crc32(s.encode())] for s in strings]
    floats = [rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30) for _ in range(2000)] + [float(rng.randint(-10**6, 10**6)) for _ in range(200)]
    floats += [10.0 ** k for k in range(-8, 20)] + [5e-324, 1.7976931348623157e308, -0.0]
    reprs = [repr(x) for x in floats]
    pct = []
    for _ in range(400):
        n = rng.randint(1, 9)
        xs = [rng.choice([float("nan"), float("inf"), -float("inf")]) if rng.random() < 0.1 else round(rng.gauss(0, 1), rng.randint(0, 6)) for _ in range(n)]
        q = rng.choice([50.0, 25.0, 75.0, 10.0, 90.0, 33.3])
        with np.errstate(all="ignore"):
            pct.append([xs, q, float(np.nanpercentile(np.array(xs, dtype=float), q))])
    with open(out_path, "w") as f:
        json.dump({"brackets": brackets, "crc32": crcs, "repr": reprs, "percentile": pct}, f)
    return {"ok": True, "brackets": len(brackets), "crc32": len(crcs), "repr": len(reprs), "percentile": len(pct)}


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    result = {"check": check, "add": add, "write": write, "count": count, "pruners": pruners, "numerics": numerics}[cmd](*args)
    print(json.dumps(result))
