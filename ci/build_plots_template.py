#!/usr/bin/env python3
"""Write the page template for `dvc plots show`/`diff` with vega, vega-lite and vega-embed inlined.

DVC's own page (dvc_render's ``VegaRenderer.SCRIPTS``) loads the three libraries from a CDN,
so without network the image plots appear and every curve stays blank. This template holds
the same builds, read from the npm packages that `make` installs at the versions the
Makefile pins (the majors of DVC's CDN tags):

    python ci/build_plots_template.py ci/vega/node_modules .dvc/plots/offline.html

.dvc/config's ``plots.html_template`` names the output (DVC resolves a relative path against
.dvc/), so a plain `dvc plots show` uses it. The template has no ``{scripts}`` placeholder:
that is where DVC would put its CDN <script> tags. Standard library only.
"""

import argparse
import json
import re
import sys
from pathlib import Path

# In load order: vega-lite needs the `vega` global, vega-embed both.
PACKAGES = ("vega", "vega-lite", "vega-embed")

# DVC fills the template by replacing these; the libraries must not contain them.
DVC_PLACEHOLDERS = ("{plot_divs}", "{scripts}", "{refresh_tag}")
# Text that would end or confuse an inline <script> element (HTML's script data states).
SCRIPT_BREAKERS = re.compile(r"</script|<script|<!--", re.IGNORECASE)
SOURCE_MAP = re.compile(r"\n?//# sourceMappingURL=\S+\s*$")

PAGE = """<!DOCTYPE html>
<html>
<head>
    {{refresh_tag}}
    <meta charset="utf-8">
    <title>DVC Plot</title>
    <!-- Offline: {versions} inlined by ci/build_plots_template.py (make). Do not edit. -->
{scripts}
    <style>
        table {{
            border-spacing: 15px;
        }}
    </style>
</head>
<body>
    {{plot_divs}}
</body>
</html>
"""


def library(node_modules: Path, name: str) -> tuple[str, str]:
    """(version, minified build) of one npm package: the file its CDN URL serves."""
    folder = node_modules / name
    try:
        manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        sys.exit(f"{folder} is missing: install it with `make plots-template`")
    build = manifest.get("jsdelivr") or manifest.get("unpkg")
    if not build:
        sys.exit(f"{folder}/package.json names no browser build (jsdelivr or unpkg)")
    # The .map file is not shipped beside the page: drop the comment that points at it.
    code = SOURCE_MAP.sub("", (folder / build).read_text(encoding="utf-8"))
    for placeholder in DVC_PLACEHOLDERS:
        if placeholder in code:
            sys.exit(f"{folder / build} contains DVC's placeholder {placeholder}")
    if breaker := SCRIPT_BREAKERS.search(code):
        sys.exit(f"{folder / build} contains {breaker.group()!r}: it cannot be inlined as is")
    return manifest["version"], code


def build_page(node_modules: Path) -> str:
    libraries = {name: library(node_modules, name) for name in PACKAGES}
    versions = ", ".join(f"{name} {version}" for name, (version, _) in libraries.items())
    scripts = "\n".join(
        f"    <script>/* {name} {version} */\n{code}\n    </script>"
        for name, (version, code) in libraries.items()
    )
    return PAGE.format(versions=versions, scripts=scripts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("node_modules", type=Path, help="where npm installed the packages")
    parser.add_argument("output", type=Path, help="the template to write")
    arguments = parser.parse_args()
    page = build_page(arguments.node_modules)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    # Written whole or not at all: make must not take a half-written file as up to date.
    partial = arguments.output.with_name(arguments.output.name + ".partial")
    partial.write_text(page, encoding="utf-8")
    partial.replace(arguments.output)
    print(f"{arguments.output}: {len(page) // 1024} KiB, {', '.join(PACKAGES)} inlined")


if __name__ == "__main__":
    main()
