//! Drydock's HTTP front end: the `/api/v1.0` server and the `drydock` CLI.
//! Core errors become status codes and wire bodies here and nowhere else.
