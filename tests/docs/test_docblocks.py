"""The doc-block reader and comparer: what a block means, and what may and may not differ."""

from __future__ import annotations

from pathlib import Path

from .docblocks import matches, normalise, read_blocks, render_block

DOC = '''# A page

```console
$ lineal runs list --since 3d \\
    --kind train        # a comment
id        name
01M8YCTW  train

$ lineal registry alias churn@v2 prod --expect v1
error: alias 'prod' of default/churn points at v3
$ lineal verify
```

<!-- doc-test: skip (needs a running server) -->
```bash
$ lineal runs list --uri http://127.0.0.1:8080
```

```bash
lineal runs list    # no prompt: an illustration
```

<!-- doc-test: run -->
```python
print("ran")
```

```python
illustration()
```

- a list item:

  <!-- doc-test: exit-only (the machine's versions) -->
  ```
  $ lineal env churn@v1
  python: 3.11.7
  ```
'''


def _blocks(tmp_path: Path) -> list:
    page = tmp_path / "page.md"
    page.write_text(DOC)
    return read_blocks(page)


def test_sessions_commands_and_markers(tmp_path: Path) -> None:
    blocks = _blocks(tmp_path)
    assert [(b.line, b.mode, b.lang) for b in blocks] == [
        (3, "compare", "console"), (15, "skip", "bash"), (24, "run", "python"),
        (35, "exit-only", ""),
    ]
    first = blocks[0]
    assert [c.text for c in first.commands] == [
        "lineal runs list --since 3d --kind train        # a comment",
        "lineal registry alias churn@v2 prod --expect v1",
        "lineal verify",
    ]
    assert first.commands[0].argv({}) == ["lineal", "runs", "list", "--since", "3d", "--kind",
                                          "train"]
    assert first.commands[0].expected == ["id        name", "01M8YCTW  train"]
    assert first.commands[2].expected == []
    assert blocks[1].reason == "needs a running server"
    assert blocks[3].indent == "  " and blocks[3].commands[0].expected == ["python: 3.11.7"]


def test_variables_are_expanded_as_a_shell_would(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text('```\n$ lineal registry admins --set "$USER" $NOPE\n```\n')
    (block,) = read_blocks(page)
    assert block.commands[0].argv({"USER": "ada"}) == [
        "lineal", "registry", "admins", "--set", "ada", "$NOPE"]


def test_render_replaces_only_the_outputs_given(tmp_path: Path) -> None:
    block = _blocks(tmp_path)[0]
    body = render_block(block, {2: ["OK: 3 runs"]})
    assert body == block.body.replace("$ lineal verify\n", "$ lineal verify\nOK: 3 runs\n")
    assert render_block(block, {}) == block.body


def test_what_varies_is_normalised_and_nothing_else() -> None:
    doc = normalise("run train-logreg 01M87G5PW0HD6WBN38TKSB9B26 at 2026-11-24 19:22:57 (1.3s)\n"
                    "01M87G5P  sha256:c60fc33a5c4b  2e7ddb79  125.9 KiB  11-24 19:22  by root")
    printed = normalise("run train-logreg 01M8YCTHHBT15DD4S8CS1YSCBR at 2026-12-03 16:47:27 "
                        "(25.4s)\n01M8YCTH  sha256:772e96b22153  fb4628e8  50.5 KiB  12-03 16:47 "
                        " by ada", user="ada")
    assert doc == printed
    assert normalise("read into project default in 2.4 s") == normalise(
        "read into project default in 7.9 s")
    assert normalise('File "/a/.venv/lib/python3.11/site-packages/sklearn/base.py", line 98') \
        == normalise('File "/usr/lib/python3.12/site-packages/sklearn/base.py", line 1403')
    assert normalise("1 ingest ingest finished 0.4s 01M90VNFGJJSMEDR4KYFH7W0ZY 46909529 raw@v1") \
        == normalise("1 ingest ingest finished 0.5s 01M8YE21K3V00GDP3RJPQF1NMY c3ea287b raw@v1")
    assert normalise("train_accuracy 0.9883") != normalise("train_accuracy 0.9812")
    assert normalise("default/churn@v1") != normalise("default/churn@v2")
    assert normalise("file:///tmp/x/.lineal/blobs", folders=("/tmp/x",)) == [
        "file:///repo/.lineal/blobs"]


def test_an_ellipsis_line_stands_for_any_lines() -> None:
    shown = ["model: churn@v1", "...", "status: live"]
    assert matches(shown, ["model: churn@v1", "status: live"])
    assert matches(shown, ["model: churn@v1", "a", "b", "status: live"])
    assert not matches(shown, ["model: churn@v2", "a", "status: live"])
    assert not matches(["a", "b"], ["a", "b", "c"])
    assert not matches(["a", "b"], ["a"])
