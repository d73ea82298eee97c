"""The original's ``drydock_provisioner.drydock_client`` interface, served
by ``drydock.client``."""
