"""The ``lineal`` command: a thin translation layer over the library.

Each command opens the store, makes library calls, and renders the result as a table (default)
or JSON (``--json``). Library errors become a one-line message on stderr and the error class's
exit code; there is never a traceback for a user error.

Command groups load lazily from ``COMMANDS``, so ``lineal --help`` imports no store code; a
resource adds its group with one line here.
"""

from __future__ import annotations

import importlib
import sys

import click

from . import startup
from .startup import loading

COMMANDS: dict[str, str] = {
    "runs": "lineal.cli.runs:runs",
    "artifacts": "lineal.cli.artifacts:artifacts",
    "datasets": "lineal.cli.datasets:datasets",
    "models": "lineal.cli.models:models",
    "store": "lineal.cli.store:store",
    "verify": "lineal.cli.store:verify",
    "gc": "lineal.cli.housekeeping:gc_command",
    "purge": "lineal.cli.housekeeping:purge_command",
    "audit": "lineal.cli.audit:audit",
    "registry": "lineal.cli.registry:registry",
    "deploy": "lineal.cli.deploy:deploy",
    "cache": "lineal.cli.cache:cache",
    "reproduce": "lineal.cli.reproduce:reproduce",
    "import": "lineal.cli.import_mlflow:import_command",  # FILE (cli/lineage.py) or a source
    "lineage": "lineal.cli.lineage:lineage_command",
    "taint": "lineal.cli.lineage:taint_command",
    "untaint": "lineal.cli.lineage:untaint_command",
    "taints": "lineal.cli.lineage:taints_command",
    "impact": "lineal.cli.lineage:impact_command",
    "trained-on": "lineal.cli.questions:trained_on_command",
    "params": "lineal.cli.questions:params_command",
    "pipeline": "lineal.cli.questions:pipeline_command",
    "env": "lineal.cli.questions:env_command",
    "runs-using": "lineal.cli.questions:runs_using_command",
    "why-failed": "lineal.cli.questions:why_failed_command",
    "last-deployed": "lineal.cli.questions:last_deployed_command",
    "leaderboard": "lineal.cli.questions:leaderboard_command",
    "diff": "lineal.cli.questions:diff_command",
    "server": "lineal.cli.server:server_command",
    "token": "lineal.cli.tokens:token",
    "webhooks": "lineal.cli.webhooks:webhooks",
    "ui": "lineal.cli.ui:ui_command",
}


#: Global options that may also be given after the command (``lineal runs list --uri X``).
GLOBAL_OPTIONS = ("--uri", "--artifacts")


def hoist_global_options(args: list[str]) -> list[str]:
    """Move ``--uri``/``--artifacts`` (``--uri X`` or ``--uri=X``) found anywhere before a
    ``--`` to the front, so they work at any position of the command line."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name = arg.partition("=")[0]
        if name in GLOBAL_OPTIONS and "=" in arg:
            front.append(arg)
        elif arg in GLOBAL_OPTIONS and i + 1 < len(args):
            front.extend(args[i:i + 2])
            i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest


class LazyGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:
            args = hoist_global_options(list(args))
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        with loading():
            command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lineal")
@click.option(
    "--uri",
    envvar="LINEAL_URI",
    default=None,
    help="Store location: a folder, sqlite:///..., postgresql://..., mysql://... "
    "(may also follow the command) [env: LINEAL_URI; else `uri` in lineal.toml or "
    "[tool.lineal]; else the nearest .lineal/ upward, or .lineal/ at the git root or here]",
)
@click.option(
    "--artifacts",
    envvar="LINEAL_ARTIFACTS",
    default=None,
    help="Where artifact bytes live: a folder or s3://bucket/prefix (may also follow the "
    "command) [env: LINEAL_ARTIFACTS; else `artifacts` in lineal.toml]",
)
@click.pass_context
def cli(ctx: click.Context, uri: str | None, artifacts: str | None) -> None:
    """lineal: ML metadata, lineage, artifacts and a model registry."""
    ctx.obj = {"uri": uri, "artifacts": artifacts}


def main(argv: list[str] | None = None) -> int:
    """Console entry point: lineal errors exit with their code and one line, no traceback."""
    from ..errors import LinealError

    if argv is None:  # the process's own command line: this process is the command
        startup.FREEZE = True  # see lineal.cli.startup
    try:
        result = cli.main(args=argv, prog_name="lineal", standalone_mode=False)
        # Without standalone mode click returns ctx.exit(code)'s code (or the command's return
        # value): only an int is an exit status.
        return result if isinstance(result, int) else 0
    except LinealError as error:
        from .render import say

        say(f"error: {error}", err=True)
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
