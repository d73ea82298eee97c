//! Running `drydock` as a service (deploy/): readiness notification to
//! systemd (`Type=notify`), the `db migrate` job and the export of trace
//! spans over OTLP, through the binary.

mod migrate;
mod notify;
#[cfg(feature = "otlp")]
mod traces;
