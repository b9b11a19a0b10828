"""The process the SIGKILL campaign kills: ``python torture/kill_child.py URI ARTIFACTS JOURNAL SEED``.

It does what a training script does (start runs, log params, log metrics in loops, flush, log
small artifacts, finish runs, now and then register a model and move an alias) and, after each
operation lineal acknowledged (the call returned), appends the acknowledged fact to ``JOURNAL``
and fsyncs it. The parent kills it at a random moment and then checks that every journaled fact
is in the store. A fact is journaled only after lineal returned, so a fact in the journal that is
missing from the store is a lost acknowledged write.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any


class Journal:
    """Append-only, one JSON object a line, fsynced after each line."""

    def __init__(self, path: Path) -> None:
        self._file: IO[bytes] = open(path, "ab", buffering=0)  # noqa: SIM115 - held open

    def ack(self, **fact: Any) -> None:
        self._file.write((json.dumps(fact) + "\n").encode())
        os.fsync(self._file.fileno())


def main(uri: str, artifacts: str, journal_path: str, seed: int, budget: float = 60.0) -> None:
    import lineal
    from lineal import registry
    from lineal.store import open_store

    rng = random.Random(seed)
    journal = Journal(Path(journal_path))
    store = open_store(uri, artifacts)
    journal.ack(t="opened", pid=os.getpid())
    scratch = Path(tempfile.mkdtemp(prefix="lineal-torture-child-"))
    deadline = time.monotonic() + budget
    n = 0
    while time.monotonic() < deadline:
        n += 1
        run = lineal.start_run(f"torture-{seed}-{n}", kind="train", capture=False, store=store,
                               params={"lr": rng.choice([0.1, 0.01]), "seed": seed, "n": n})
        journal.ack(t="run", run=run.id, params={"lr": run.record.params["lr"], "seed": seed, "n": n})
        step = -1
        for _ in range(rng.randint(1, 4)):
            for _ in range(rng.randint(5, 200)):
                step += 1
                run.log_metric("loss", 1.0 / (step + 1), step)
            run.flush()
            journal.ack(t="metrics", run=run.id, key="loss", last_step=step)
            if rng.random() < 0.5:
                data = rng.randbytes(rng.randint(1, 16 * 1024))
                path = scratch / f"part-{n}-{step}.bin"
                path.write_bytes(data)
                kind = "model" if rng.random() < 0.3 else "file"
                version = run.log_artifact(path, name=f"torture-{kind}", kind=kind)
                journal.ack(t="artifact", run=run.id, id=version.id, ref=version.ref,
                            digest="sha256:" + hashlib.sha256(data).hexdigest(), size=len(data))
                if kind == "model" and rng.random() < 0.5:
                    mv = registry.register_model("torture-model", version, store=store)
                    journal.ack(t="registered", model="torture-model", version=mv.version)
                    registry.set_alias(f"torture-model@v{mv.version}", "candidate", store=store)
                    journal.ack(t="alias", model="torture-model", alias="candidate",
                                version=mv.version)
        if rng.random() < 0.85:  # some runs are left open on purpose, like a crash mid-run
            run.end()
            journal.ack(t="finished", run=run.id)
    journal.ack(t="done")
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]),
         float(sys.argv[5]) if len(sys.argv) > 5 else 60.0)
