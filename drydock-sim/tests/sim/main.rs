//! Integration tests for drydock-sim.
