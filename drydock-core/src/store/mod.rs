//! The `StateStore` trait and its implementations (memory, redb, PostgreSQL).
