//! Design-path integration tests: the upstream corpus, the real treasuremap
//! sites, generated sites, one fixture pair per validation rule, the spec's
//! unit expectations, and hostile input.

#![allow(unreachable_pub)]

#[cfg(feature = "runtime")]
mod bootaction;
mod catalogue;
mod corpus;
mod generated;
mod render;
mod robustness;
mod rules;
#[cfg(feature = "remote-sources")]
mod source;
mod spec_cases;
mod support;
mod treasuremap;
