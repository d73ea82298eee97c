//! The orchestrator: runs tasks as ordered idempotent steps fanned out over nodes.
