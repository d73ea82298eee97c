"""The original's client exceptions."""

from drydock.client import ClientError, ClientForbiddenError, ClientUnauthorizedError

__all__ = ["ClientError", "ClientForbiddenError", "ClientUnauthorizedError"]
