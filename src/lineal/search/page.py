"""One page of a run search, and the opaque token that fetches the next one."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from ..entities import Run
from ..errors import InvalidArgument

if TYPE_CHECKING:
    import pandas

__all__ = ["RunPage", "decode_page_token", "encode_page_token", "query_digest"]


@dataclass(frozen=True)
class RunPage(Sequence[Run]):
    """The runs of one page (a sequence: ``len``, index, iterate), ``next_page_token`` (None
    on the last page) and ``columns``: the ``metrics.X``/``params.X``/``tags.X`` the filter and
    the sort named, which a table of the results shows first."""

    runs: list[Run]
    next_page_token: str | None = None
    columns: tuple[str, ...] = field(default=())

    @overload
    def __getitem__(self, index: int) -> Run: ...
    @overload
    def __getitem__(self, index: slice) -> list[Run]: ...
    def __getitem__(self, index: int | slice) -> Run | list[Run]:
        return self.runs[index]

    def __len__(self) -> int:
        return len(self.runs)

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs)

    def to_pandas(self) -> pandas.DataFrame:
        """A DataFrame shaped like MLflow's ``search_runs`` result: ``run_id``, ``name``,
        ``status``, ``start_time``, ``end_time``, ``experiment``, ``project``, ``kind``, then
        one ``params.X``, ``metrics.Y`` and ``tags.Z`` column per key any run of the page has
        (missing values are None/NaN)."""
        from ..notebook import runs_frame

        return runs_frame(self.runs)

    def _repr_html_(self) -> str:
        from ..notebook import Runs

        return Runs(self.runs)._repr_html_()


def query_digest(filter_text: str | None, order: Sequence[str]) -> str:
    """A short digest of a search, kept in its page tokens so that a token is not used with
    another filter or sort (whose pages it does not delimit)."""
    text = json.dumps([filter_text or "", list(order)])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def encode_page_token(digest: str, values: Sequence[Any], run_id: str) -> str:
    """Base64 of JSON: the query digest, the last row's sort values and its run id."""
    body = json.dumps({"q": digest, "k": list(values), "id": run_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode_page_token(token: str, digest: str, count: int) -> tuple[list[Any], str]:
    """The sort values and run id a token carries; InvalidArgument if it is not one of this
    search's tokens."""
    try:
        padded = token + "=" * (-len(token) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode()))
        values, run_id, query = body["k"], body["id"], body["q"]
        ok = isinstance(values, list) and len(values) == count and isinstance(run_id, str)
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        ok = False
    if not ok:
        raise InvalidArgument(f"bad page token {token[:40]!r}",
                              hint="pass the next_page_token of the previous page, unchanged")
    if query != digest:
        raise InvalidArgument("this page token belongs to a search with another filter or sort",
                              hint="repeat the search with the filter and order of the first page")
    return values, run_id
