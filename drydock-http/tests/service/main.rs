//! Running `drydock` as a service (deploy/): readiness notification to
//! systemd (`Type=notify`) and the `db migrate` job, through the binary.

mod migrate;
mod notify;
