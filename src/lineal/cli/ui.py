"""``lineal ui``: the web UI on the local store, for one person on this machine."""

from __future__ import annotations

import click

from .render import say

DEFAULT_PORT = 8765


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (keep loopback: there is no authentication).")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help=f"Port to listen on (default: {DEFAULT_PORT}, or a free one if it is taken).")
@click.option("--no-browser", is_flag=True, help="Print the URL; do not open a browser.")
@click.pass_context
def ui_command(ctx: click.Context, host: str, port: int | None, no_browser: bool) -> None:
    """Open the web UI on the store (--uri, LINEAL_URI, then the nearest .lineal/): start
    lineal server on it, without authentication, print its URL and open the browser. Serves
    until Ctrl-C. For a team, run `lineal server --auth` instead: it serves the same UI."""
    import threading
    import webbrowser

    import uvicorn

    from ..errors import NotFound
    from ..server import create_app
    from ..server.run import settings_from_options
    from ..server.ui_bundle import BUILD_HINT, ui_folder

    settings = settings_from_options(backend=(ctx.obj or {}).get("uri"),
                                     artifacts=(ctx.obj or {}).get("artifacts"),
                                     auth=False, webhooks=False)
    if not (ui_folder(settings.ui_dir) / "index.html").is_file():
        raise NotFound("the web UI is not built in this installation", hint=BUILD_HINT)
    chosen = _port(host, port)
    url = f"http://{host}:{chosen}/"
    config = uvicorn.Config(create_app(settings), host=host, port=chosen, log_level="warning",
                            access_log=False)
    server = uvicorn.Server(config)

    def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            threading.Event().wait(0.05)
        say(f"lineal UI on {url} (store: {settings.backend or 'default'}); "
                   "Ctrl-C to stop")
        if not no_browser:
            webbrowser.open(url)

    threading.Thread(target=announce, daemon=True).start()
    server.run()


def _port(host: str, wanted: int | None) -> int:
    """``wanted``, or the default port if it is free, else any free port."""
    import socket

    if wanted is not None:
        return wanted
    with socket.socket() as sock:
        try:
            sock.bind((host, DEFAULT_PORT))
            return DEFAULT_PORT
        except OSError:
            sock.bind((host, 0))
            return int(sock.getsockname()[1])
