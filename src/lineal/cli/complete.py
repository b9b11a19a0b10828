"""Shell completion of run ids, model names and references, from the store the command would use.

Names are offered as the command reads them: bare in the command's project (``--project``,
else ``LINEAL_PROJECT``...), ``project/name`` in another; ``tests/cli/test_completion.py`` runs
completion as bash does.

Enable it with click's own mechanism, e.g. for bash: ``eval "$(_LINEAL_COMPLETE=bash_source
lineal)"`` (``zsh_source`` and ``fish_source`` for those shells). Completion must be fast and
must never print an error into the user's prompt: each function reads at most a few hundred rows
through the read path (a missing store is not created) and returns nothing on any failure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["complete_models", "complete_refs", "complete_runs"]

#: Enough to choose from; more rows would make a keypress slow on a big store.
_LIMIT = 200


@contextlib.contextmanager
def _store(ctx: click.Context) -> Iterator[Store]:
    from ..store import open_store_for_reading

    root = ctx.find_root()
    # While completing, the group's callback has not run: read its parsed options directly.
    params = {**(root.params or {}), **(root.obj or {})}
    store = open_store_for_reading(params.get("uri"), params.get("artifacts"))
    try:
        yield store
    finally:
        store.close()


def _silent(find: Callable[[Store, str, str], list[str]]) -> Callable[..., list[CompletionItem]]:
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        try:
            from ..config import default_project

            # The command's --project when it came before the word, as the command reads it.
            project = default_project(ctx.params.get("project"))
            with _store(ctx) as store:
                values = find(store, incomplete, project)
        except Exception:  # noqa: BLE001 - completion stays silent: no prompt full of errors
            return []
        return [CompletionItem(v) for v in sorted(set(values)) if v.startswith(incomplete)]

    return complete


def _named(project: str, name: str, current: str) -> str:
    """``name`` as the command reads it: bare in the command's project, else ``project/name``."""
    return name if project == current else f"{project}/{name}"


def _runs(store: Store, incomplete: str, project: str) -> list[str]:
    from ..store.base import RunFilter

    return [run.id for run in store.metadata.list_runs(RunFilter(limit=_LIMIT))]


def _models(store: Store, incomplete: str, project: str) -> list[str]:
    meta: Any = store.metadata
    if not hasattr(meta, "list_registered_models"):
        return []
    return [_named(m.project, m.name, project) for m in meta.list_registered_models(limit=_LIMIT)]


def _refs(store: Store, incomplete: str, project: str) -> list[str]:
    from ..refs import parse_ref
    from ..store.base import ArtifactFilter

    meta: Any = store.metadata
    name, at, _selector = incomplete.partition("@")
    if not at:  # names first: registered models, then artifacts
        artifacts = meta.list_artifact_versions(ArtifactFilter(limit=_LIMIT))
        return _models(store, incomplete, project) + [_named(a.project, a.name, project)
                                                      for a in artifacts]
    parsed = parse_ref(name, project)
    model = (meta.find_registered_model(parsed.project, parsed.name)
             if hasattr(meta, "find_registered_model") else None)
    if model is not None:  # the one reference rule: a registered model's versions first
        versions = meta.list_model_versions(parsed.project, parsed.name)
        return ([f"{name}@v{v.version}" for v in versions[:_LIMIT]]
                + [f"{name}@{alias}" for alias in getattr(model, "aliases", {})]
                + [f"{name}@latest"])
    found = meta.list_artifact_versions(
        ArtifactFilter(project=parsed.project, name=parsed.name, limit=_LIMIT))
    return ([f"{name}@v{a.version}" for a in found]
            + [f"{name}@{alias}" for a in found for alias in getattr(a, "aliases", ())]
            + [f"{name}@latest"])


complete_runs = _silent(_runs)
complete_models = _silent(_models)
complete_refs = _silent(_refs)
