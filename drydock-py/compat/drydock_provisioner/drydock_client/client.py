"""``DrydockClient``: the original's client class."""

from drydock.client import Client as DrydockClient

__all__ = ["DrydockClient"]
