"""``lineal server``: serve a store over HTTP for a team."""

from __future__ import annotations

import click

from .render import say


@click.command("server")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface; put TLS in front).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 256),
              help="Server processes (each stateless; use PostgreSQL or MySQL beyond one).")
@click.option("--backend", metavar="URL",
              help="Metadata store: a folder, sqlite:///..., postgresql://..., mysql://... "
              "(default: --uri, LINEAL_URI, then the nearest .lineal/).")
@click.option("--artifacts", "artifacts_url", metavar="URL",
              help="Artifact bytes: a folder or s3://bucket/prefix (default: LINEAL_ARTIFACTS, "
              "else beside a folder store).")
@click.option("--auth/--no-auth", default=False, show_default=True,
              help="Require a credential on every request (tokens, OIDC or a trusted proxy).")
@click.option("--auth-config", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="A TOML file of auth settings (keys as in lineal.auth.AuthSettings: "
              "oidc_issuer, oidc_jwks_url, role_map...); implies --auth.")
@click.option("--oidc-issuer", metavar="URL", help="Accept OIDC bearer tokens of this issuer.")
@click.option("--oidc-audience", metavar="AUD", help="The audience OIDC tokens must carry.")
@click.option("--oidc-jwks-url", metavar="URL", help="Where the issuer publishes its keys.")
@click.option("--oidc-role-claim", metavar="CLAIM", help="The claim holding roles or groups "
              "(default: roles; dotted paths reach into objects).")
@click.option("--oidc-client-id", metavar="ID", help="Sign browsers in through the issuer "
              "(/auth/login) as this client; needs a session secret.")
@click.option("--oidc-client-secret-file", type=click.Path(exists=True, dir_okay=False),
              metavar="FILE", help="A file holding the client secret (or set "
              "LINEAL_OIDC_CLIENT_SECRET; never the secret itself on the command line).")
@click.option("--oidc-redirect-url", metavar="URL", help="The callback URL registered at the "
              "issuer (default: /auth/callback at the address the browser used).")
@click.option("--session-secret-file", type=click.Path(exists=True, dir_okay=False),
              metavar="FILE", help="A file holding the secret of the sign-in cookies, 32+ "
              "characters, the same for every process (or set LINEAL_SESSION_SECRET).")
@click.option("--proxy-header", metavar="HEADER", help="Trust this header (X-Forwarded-User) "
              "from --trusted-proxy addresses as the user's name.")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, metavar="CIDR",
              help="An address or CIDR of an authenticating proxy (repeatable).")
@click.option("--request-timeout", default=300.0, show_default=True, type=click.FloatRange(0.1),
              metavar="SECONDS", help="Answer 503 when a call into the store takes longer.")
@click.option("--no-webhooks", is_flag=True, help="Do not deliver webhooks from this server.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              help="Log level of the server and its request log.")
@click.pass_context
def server_command(ctx: click.Context, host: str, port: int, workers: int, backend: str | None,
                   artifacts_url: str | None, auth: bool, auth_config: str | None,
                   oidc_issuer: str | None, oidc_audience: str | None,
                   oidc_jwks_url: str | None, oidc_role_claim: str | None,
                   oidc_client_id: str | None, oidc_client_secret_file: str | None,
                   oidc_redirect_url: str | None, session_secret_file: str | None,
                   proxy_header: str | None, trusted_proxies: tuple[str, ...],
                   request_timeout: float, no_webhooks: bool, log_level: str) -> None:
    """Serve the store over HTTP: the REST API under /api/v1 (OpenAPI at
    /api/v1/openapi.json), /healthz, /readyz and Prometheus /metrics. Point the SDK and the CLI
    at it with LINEAL_URI=http://HOST:PORT."""
    import dataclasses
    import os

    import uvicorn

    from ..server.run import (
        ENV_SETTINGS,
        log_config,
        server_speedups,
        settings_from_options,
        settings_to_json,
    )

    options: dict[str, object] = {}
    if auth_config:
        import tomllib

        with open(auth_config, "rb") as file:
            options.update(tomllib.load(file))
    for key, value in (("oidc_issuer", oidc_issuer), ("oidc_audience", oidc_audience),
                       ("oidc_jwks_url", oidc_jwks_url), ("oidc_role_claim", oidc_role_claim),
                       ("oidc_client_id", oidc_client_id),
                       ("oidc_client_secret_file", oidc_client_secret_file),
                       ("oidc_redirect_url", oidc_redirect_url),
                       ("session_secret_file", session_secret_file),
                       ("proxy_header", proxy_header)):
        if value:
            options[key] = value
    if trusted_proxies:
        options["trusted_proxies"] = list(trusted_proxies)
    options.pop("enabled", None)
    settings = settings_from_options(
        backend=backend or (ctx.obj or {}).get("uri"),
        artifacts=artifacts_url or (ctx.obj or {}).get("artifacts"),
        auth=auth or bool(options), webhooks=not no_webhooks, auth_options=options)
    settings = dataclasses.replace(settings, request_timeout=request_timeout)
    os.environ[ENV_SETTINGS] = settings_to_json(settings)
    loop, http = server_speedups()
    say(f"lineal server on http://{host}:{port} (store: {settings.backend or 'default'},"
               f" auth {'on' if settings.auth else 'off'}, {loop} + {http})", err=True)
    if http == "h11" or loop == "asyncio":
        say("note: without uvloop and httptools every request costs more CPU; "
                   "pip install 'lineal[server]' brings them", err=True)
    uvicorn.run("lineal.server.run:app_from_environment", factory=True, host=host, port=port,
                workers=workers, log_level=log_level, access_log=False, loop=loop, http=http,
                # The peer address is the connection's own, never X-Forwarded-For: the trusted
                # proxy check (--trusted-proxy) must see who actually connected.
                proxy_headers=False,
                log_config=log_config(log_level))
