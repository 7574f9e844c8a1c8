"""Optuna 3.1's own CLI (`optuna ask`, `optuna tell`, …) on an Optuna journal file.

  optuna_cli_journal.py <optuna CLI arguments…>     e.g. ask --storage journal:/tmp/s.journal --study-name s …

Optuna 3.1's CLI opens only database URLs (`optuna.storages.get_storage` makes any string an
RDBStorage), so this wrapper maps a `journal:<file>` storage string to
`JournalStorage(JournalFileStorage(file))` and then runs `optuna.cli.main()` itself, unchanged:
its flag parsing, its `Study.ask`/`Study.tell` and its output formatting. Used by the opt-in
oracle src/cli/ask-tell-oracle.spec.ts (FAIRTUNE_PYTHON_ORACLE=1).
"""
import sys

import optuna
import optuna.storages
from optuna import cli

_get_storage = optuna.storages.get_storage


def get_storage(storage):
    if isinstance(storage, str) and storage.startswith("journal:"):
        return optuna.storages.JournalStorage(optuna.storages.JournalFileStorage(storage[len("journal:"):]))
    return _get_storage(storage)


optuna.storages.get_storage = get_storage

if __name__ == "__main__":
    sys.argv = ["optuna", *sys.argv[1:]]
    sys.exit(cli.main())
