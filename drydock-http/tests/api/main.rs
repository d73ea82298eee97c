//! In-process tests of the /api/v1.0 server.
