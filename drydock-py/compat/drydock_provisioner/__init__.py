"""Compatibility package: the original Drydock's ``drydock_provisioner``
import path, for code such as Airship Shipyard."""
