//! Drydock's HTTP front end: the `/api/v1.0` server and the `drydock` CLI.
//!
//! Core errors become status codes and wire bodies here and nowhere else;
//! the compat JSON shapes live only in [`wire`].

pub mod cli;
pub mod keystone;
pub mod server;
pub mod wire;
