//! The task model: actions, statuses, results, status messages and result roll-up (pure).
