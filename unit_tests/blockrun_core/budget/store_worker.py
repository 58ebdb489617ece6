"""A worker process for the cross-process budget tests.

Run as ``python -m unit_tests.blockrun_core.budget.store_worker MODE SPEC ARGS`` from the
repository root. Modes:

- ``hammer SPEC CHILD PARENT MICROS ATTEMPTS``: print ``ready``, wait for a line on stdin,
  then reserve and commit ``MICROS`` on [child, parent] ``ATTEMPTS`` times with the real
  clock; print the JSON count of commits and refusals.
- ``hold SPEC NOW TTL MICROS``: reserve on the budget ``held`` at the given clock, print
  ``reserved`` and wait for stdin to close (the test kills it first).
- ``loop SPEC MICROS``: reserve and commit on ``looped`` forever, printing each commit.
"""

from __future__ import annotations

import json
import sys
import time

from unit_tests.blockrun_core.budget.stores import StoreSpec, key


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def hammer(spec: StoreSpec, child: str, parent: str, micros: int, attempts: int) -> None:
    store = spec.open()
    chain = [key(*json.loads(child)), key(*json.loads(parent))]
    _say("ready")
    sys.stdin.readline()
    committed = refused = 0
    for i in range(attempts):
        rid = f"{chain[0].key}-{i}"
        if store.reserve(chain, rid, micros, now=time.time(), ttl_seconds=60) is None:
            store.commit(chain, rid, micros, now=time.time())
            committed += 1
        else:
            refused += 1
    store.close()
    _say(json.dumps({"committed": committed, "refused": refused}))


def hold(spec: StoreSpec, now: float, ttl: float, micros: int) -> None:
    store = spec.open()
    refusal = store.reserve([key("held", micros)], "doomed", micros, now=now, ttl_seconds=ttl)
    _say("reserved" if refusal is None else f"refused {refusal}")
    sys.stdin.read()


def loop(spec: StoreSpec, micros: int) -> None:
    store = spec.open()
    budget = key("looped", 10**15)
    for i in range(10**9):
        rid = f"loop-{i}"
        store.reserve([budget], rid, micros, now=time.time(), ttl_seconds=60)
        store.commit([budget], rid, micros, now=time.time())
        _say(f"committed {i + 1}")


if __name__ == "__main__":
    mode, spec_json, *rest = sys.argv[1:]
    spec = StoreSpec.from_json(spec_json)
    if mode == "hammer":
        hammer(spec, rest[0], rest[1], int(rest[2]), int(rest[3]))
    elif mode == "hold":
        hold(spec, float(rest[0]), float(rest[1]), int(rest[2]))
    else:
        loop(spec, int(rest[0]))
