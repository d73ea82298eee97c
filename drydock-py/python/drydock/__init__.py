"""Drydock for Python.

The design path runs in Rust (``drydock._drydock``): load a site design,
read its effective nodes (after host-profile inheritance), validate it,
evaluate node filters and render boot actions::

    import drydock
    site = drydock.load("examples/site.yaml")
    if not site.valid:
        for finding in site.errors():
            print(finding.code, finding.message, finding.file, finding.line)
    for node in site.nodes:
        print(node.name, node.to_dict()["config"]["primary_network"])
    names = site.select({"filter_set_type": "union",
                         "filter_set": [{"filter_type": "union", "node_tags": ["compute"]}]})

A Pegleg site repository is rendered first (Deckhand's layering and
substitution), and findings name the repository's files::

    site = drydock.load_site_repo("treasuremap", "seaworthy")

``drydock.client`` talks to a running ``drydock serve``
(``drydock.Client.from_url(url, token)``); ``drydock.types`` has the
shapes of its answers as TypedDicts. The distribution is
``drydock-rs`` (``pip install drydock-rs``); the package
``drydock_provisioner.drydock_client`` is the original client's interface
on top of it, for code such as Airship Shipyard.
"""

from ._drydock import (
    BootActionError,
    DesignInvalidError,
    DesignLoadError,
    Document,
    DrydockError,
    Finding,
    NodeFilterError,
    Site,
    UnknownNodeError,
    __version__,
    load,
    load_site_repo,
    loads,
)
from .client import Client, ClientError, ClientForbiddenError, ClientUnauthorizedError
from . import types

__all__ = [
    "BootActionError",
    "Client",
    "ClientError",
    "ClientForbiddenError",
    "ClientUnauthorizedError",
    "DesignInvalidError",
    "DesignLoadError",
    "Document",
    "DrydockError",
    "Finding",
    "NodeFilterError",
    "Site",
    "UnknownNodeError",
    "__version__",
    "load",
    "load_site_repo",
    "loads",
    "types",
]
