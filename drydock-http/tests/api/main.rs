//! In-process tests of the `/api/v1.0` server through poem's test client:
//! every endpoint, every auth mode and the error paths, with golden JSON
//! (insta) of response bodies whose ids and timestamps are normalised.

mod auth;
mod binary;
mod conformance;
mod designs;
mod hostile;
mod metrics;
mod nodes;
mod openapi;
mod promenade;
mod service;
mod support;
mod tasks;
mod validation;
