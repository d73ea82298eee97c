"""``DrydockSession``: the original's session class."""

from drydock.client import Session as DrydockSession

__all__ = ["DrydockSession"]
