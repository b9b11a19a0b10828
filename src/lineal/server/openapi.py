"""Write the server's OpenAPI document: ``python -m lineal.server.openapi -o docs/openapi.json``
(a test keeps ``docs/openapi.json`` equal to what the server serves)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .app import create_app
from .settings import ServerSettings

__all__ = ["document"]


def document() -> dict[str, Any]:
    """The OpenAPI document of the REST API."""
    spec: dict[str, Any] = create_app(ServerSettings(webhooks=False)).openapi()
    return spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-o", "--output", default="-")
    args = parser.parse_args()
    text = json.dumps(document(), indent=1, sort_keys=True) + "\n"
    if args.output == "-":
        print(text, end="")
    else:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)


if __name__ == "__main__":
    main()
