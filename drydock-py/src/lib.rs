//! The `drydock` Python module (pyo3): thin wrappers over `drydock-core`.
