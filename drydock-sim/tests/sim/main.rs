//! Integration tests for drydock-sim: a real lab on 127.0.0.1 driven over
//! HTTP, asserting on responses, the request log and the world's state.

mod corpus;
mod faults;
mod http;
mod lifecycle;
mod maas_api;
mod maas_errors;
mod promenade;
mod redfish;
mod shapes;
