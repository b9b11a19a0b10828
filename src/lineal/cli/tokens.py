"""``lineal token``: API tokens for ``lineal server`` (make, list, revoke)."""

from __future__ import annotations

import click

from .render import emit_json, local_time, open_store_from_ctx, print_table, say, wide_option


@click.group("token")
def token() -> None:
    """API tokens for `lineal server --auth`: a client sends one as `Authorization: Bearer
    lnl_...`. The store keeps only a hash of each secret; see docs/auth.md."""


@token.command("create")
@click.option("--role", required=True, type=click.Choice(["reader", "writer", "admin"]),
              help="What the token may do: reader reads; writer also records runs, artifacts "
              "and versions; admin also governs (protected aliases, approvals, production, "
              "purges, tokens).")
@click.option("--project", default=None,
              help="The one project the token acts in [default: every project].")
@click.option("--expires", default=None, metavar="AGE",
              help="Expire after AGE: 12h, 30d, 2w... [default: never].")
@click.option("--name", default=None, help="A label for listings [default: ROLE@PROJECT].")
@click.option("--json", "as_json", is_flag=True,
              help="Print the token and its secret as JSON.")
@click.pass_context
def create_command(ctx: click.Context, role: str, project: str | None, expires: str | None,
                   name: str | None, as_json: bool) -> None:
    """Make an API token and print its secret, once: it is not stored anywhere (the store
    keeps its SHA-256), so copy it now. Recorded in the audit ledger."""
    from ..tokens import create_token

    made, secret = create_token(role, project=project, expires=expires, name=name,
                                store=open_store_from_ctx(ctx, create=True))
    if as_json:
        emit_json({**made.to_dict(), "secret": secret})
        return
    say(secret)
    expiry = local_time(made.expires_at) if made.expires_at else "never"
    say(f"token {made.id} ({made.name}): {made.role} in "
               f"{made.project or 'every project'}, expires {expiry}", err=True)
    say("the secret above is shown this once; store it now "
               "(send it as 'Authorization: Bearer <secret>')", err=True)


@token.command("list")
@click.option("--project", default=None, help="Only tokens scoped to this project.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@wide_option
@click.pass_context
def list_command(ctx: click.Context, project: str | None, as_json: bool) -> None:
    """Every API token, newest first, with its status (active, expired, revoked); never a
    secret."""
    from ..tokens import list_tokens

    found = list_tokens(project, store=open_store_from_ctx(ctx))
    if as_json:
        emit_json([t.to_dict() for t in found])
        return
    print_table("API tokens", ("id", "name", "role", "project", "status", "created", "by",
                               "expires"),
                [(t.id, t.name, t.role, t.scope, t.status, local_time(t.created_at),
                  t.created_by, local_time(t.expires_at) if t.expires_at else "never")
                 for t in found],
                empty="no API tokens", no_wrap=("id",))


@token.command("revoke")
@click.argument("token_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the revoked token as JSON.")
@click.pass_context
def revoke_command(ctx: click.Context, token_id: str, as_json: bool) -> None:
    """Revoke the API token ID: from now on it authenticates nobody. Recorded in the audit
    ledger; revoking a revoked token changes nothing."""
    from ..tokens import revoke_token

    revoked = revoke_token(token_id, store=open_store_from_ctx(ctx))
    if as_json:
        emit_json(revoked.to_dict())
        return
    assert revoked.revoked_at is not None
    say(f"revoked token {revoked.id} ({revoked.name}) on "
               f"{local_time(revoked.revoked_at)} by {revoked.revoked_by}")
