"""Screenshots of the web UI on the demo's store, for the README and docs/ui.md.

    python examples/demo.py --store /tmp/demo-store
    python examples/ui_screenshots.py --store /tmp/demo-store --out docs/img

Starts ``lineal server`` on the store and drives Debian's chromium (``--chromium``) headless
through Playwright; needs the UI bundle (``make ui``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

PAGES = {
    "demo-lineage": "/lineage/default/cancer-raw@v1?direction=down&depth=all",
    "demo-registry": "/registry/default/cancer-classifier",
    "demo-impact": "/impact/default/cancer-features-train@v1",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="the demo's store folder or URL")
    parser.add_argument("--out", default="docs/img", help="where the PNGs go")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from lineal.server.testing import ServerProcess

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with ServerProcess(backend=args.store) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium,
                                             args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        for name, path in PAGES.items():
            page.goto(server.url + path)
            page.wait_for_selector("main .card, main .react-flow__node")
            page.wait_for_timeout(1500)  # the graph's fit animation
            page.screenshot(path=str(out / f"{name}.png"))
            print(out / f"{name}.png")
        browser.close()


if __name__ == "__main__":
    main()
