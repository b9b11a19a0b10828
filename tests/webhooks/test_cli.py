"""``lineal webhooks``: add, list, test, deliveries, deliver, remove, through the real entry
point, against a receiver on loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from tests.cli.conftest import messages

import lineal
from lineal.webhooks import verify_signature
from lineal.webhooks.signing import SIGNATURE_HEADER

from .conftest import Receiver, Register


def run(store: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    from lineal.cli import main

    runner = CliRunner()
    with runner.isolation(input=stdin) as (out, err, _):
        try:
            code = main(["--uri", str(store / "store"), "--artifacts", str(store / "blobs"),
                         *args])
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        return code, out.getvalue().decode(), err.getvalue().decode()


def ok(store: Path, *args: str, **kwargs: Any) -> str:
    code, out, err = run(store, *args, **kwargs)
    assert code == 0, f"lineal {' '.join(args)} exited {code}: {err}"
    return out


def test_the_whole_cycle(tmp_path: Path, receiver: Receiver, register: Register) -> None:
    added = json.loads(ok(tmp_path, "webhooks", "add", receiver.url, "--event", "alias.moved",
                          "--event", "ping", "--json"))
    hook_id, secret = added["webhook"]["id"], added["secret"]
    assert added["webhook"]["events"] == ["alias.moved", "ping"] and len(secret) == 64

    listed = json.loads(ok(tmp_path, "webhooks", "list", "--json"))
    assert [h["id"] for h in listed] == [hook_id] and secret not in json.dumps(listed)
    assert receiver.url in ok(tmp_path, "webhooks", "list", "--wide")

    assert "ping delivered" in ok(tmp_path, "webhooks", "test", hook_id[:8])
    assert verify_signature(secret, receiver.received[0].body,
                            receiver.received[0].headers[SIGNATURE_HEADER])

    store = lineal.open_store(tmp_path / "store", artifacts=str(tmp_path / "blobs"))
    register(store, "m")
    lineal.registry.set_alias("churn@v1", "prod", store=store)
    store.close()
    report = json.loads(ok(tmp_path, "webhooks", "deliver", "--once", "--json"))
    assert report == {"enqueued": 1, "attempted": 1, "delivered": 1, "retrying": 0, "failed": 0}
    assert [e["type"] for e in receiver.events()] == ["ping", "alias.moved"]
    assert "0 enqueued, 0 attempted" in ok(tmp_path, "webhooks", "deliver", "--once")

    log = json.loads(ok(tmp_path, "webhooks", "deliveries", hook_id, "--json"))
    assert [d["event_type"] for d in log] == ["alias.moved", "ping"]
    assert all(d["status"] == "delivered" for d in log)
    assert "alias.moved" in ok(tmp_path, "webhooks", "deliveries", "--status", "delivered")

    assert hook_id in ok(tmp_path, "webhooks", "remove", hook_id)
    assert json.loads(ok(tmp_path, "webhooks", "list", "--json")) == []
    assert json.loads(ok(tmp_path, "webhooks", "list", "--all", "--json"))[0]["active"] is False


def test_a_failed_test_exits_non_zero_and_bad_input_is_one_line(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.stop()
    out = ok(tmp_path, "webhooks", "add", receiver.url, "--secret-file", "-",
             stdin="my-own-secret-of-some-length\n")
    assert "my-own-secret-of-some-length" in out
    hook_id = json.loads(ok(tmp_path, "webhooks", "list", "--json"))[0]["id"]
    code, _, err = run(tmp_path, "webhooks", "test", hook_id, "--timeout", "5")
    assert code == 1 and "ping not delivered" in err
    (failed,) = json.loads(ok(tmp_path, "webhooks", "deliveries", "--json"))
    assert failed["status"] == "failed" and failed["attempts"] == 1

    for args in (["add", "ftp://x/y"], ["add", receiver.url, "--event", "nope"],
                 ["remove", "01NOSUCHHOOK"], ["test", "abc"]):
        code, _, err = run(tmp_path, "webhooks", *args)
        assert code != 0 and "Traceback" not in err and len(messages(err)) <= 2, err
