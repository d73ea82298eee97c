//! Versioned schema migrations for the PostgreSQL store, applied at start-up.
//!
//! Versions 1-3 create the original's schema exactly (compat: api spec §4.1;
//! Alembic revisions `9593a123e7c5`, `4a5bef3702b`, `4713e7ebca9`), so a
//! database the Python Drydock created is recognised as current. Version 4
//! adds what this implementation needs, all additive: a generation column for
//! guarded updates, the recommended indexes, wider text columns (the
//! original's length limits made saves fail, §4.1 quirks), and the designs
//! tables. Version 5 adds `drydock_probe`, the one-row table the
//! writability health check writes to. Applied versions are recorded in
//! `drydock_schema_migrations`; a database at a newer version than this code
//! knows is refused.

/// One migration.
pub(super) struct Migration {
    pub(super) version: i32,
    pub(super) description: &'static str,
    pub(super) sql: &'static str,
}

/// The newest version this code knows.
pub(super) const LATEST: i32 = 6;

/// The original's Alembic head revision.
pub(super) const ALEMBIC_HEAD: &str = "4713e7ebca9";

pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "original base schema (alembic 9593a123e7c5)",
        sql: r#"
CREATE TABLE IF NOT EXISTS tasks (
    task_id bytea PRIMARY KEY,
    parent_task_id bytea,
    subtask_id_list bytea[],
    result_status varchar(32),
    result_message varchar(128),
    result_reason varchar(128),
    result_error_count integer,
    result_successes varchar(32)[],
    result_failures varchar(32)[],
    retry integer,
    status varchar(32),
    created timestamp,
    created_by varchar(16),
    updated timestamp,
    design_ref varchar(128),
    request_context json,
    node_filter json,
    action varchar(32),
    terminated timestamp,
    terminated_by varchar(16),
    terminate boolean DEFAULT false
);
CREATE TABLE IF NOT EXISTS result_message (
    sequence serial PRIMARY KEY,
    task_id bytea,
    message varchar(1024),
    error boolean,
    context varchar(64),
    context_type varchar(16),
    ts timestamp,
    extra json
);
CREATE TABLE IF NOT EXISTS active_instance (
    dummy_key integer PRIMARY KEY,
    identity bytea,
    last_ping timestamp
);
CREATE TABLE IF NOT EXISTS boot_action (
    node_name varchar(280) PRIMARY KEY,
    task_id bytea,
    identity_key bytea
);
CREATE TABLE IF NOT EXISTS boot_action_status (
    node_name varchar(280),
    action_id bytea PRIMARY KEY,
    action_name varchar(64),
    task_id bytea,
    identity_key bytea,
    action_status varchar(32)
);
CREATE INDEX IF NOT EXISTS ix_boot_action_status_node_name ON boot_action_status (node_name);
CREATE INDEX IF NOT EXISTS ix_boot_action_status_task_id ON boot_action_status (task_id);
"#,
    },
    Migration {
        version: 2,
        description: "build data (alembic 4a5bef3702b)",
        sql: r#"
CREATE TABLE IF NOT EXISTS build_data (
    node_name varchar(32),
    task_id bytea,
    collected_date timestamp,
    generator varchar(256),
    data_format varchar(32),
    data_element text
);
CREATE INDEX IF NOT EXISTS ix_build_data_node_name ON build_data (node_name);
CREATE INDEX IF NOT EXISTS ix_build_data_task_id ON build_data (task_id);
"#,
    },
    Migration {
        version: 3,
        description: "task result links (alembic 4713e7ebca9)",
        sql: r#"
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS result_links json;
CREATE TABLE IF NOT EXISTS alembic_version (version_num varchar(32) PRIMARY KEY);
DELETE FROM alembic_version;
INSERT INTO alembic_version (version_num) VALUES ('4713e7ebca9');
"#,
    },
    Migration {
        version: 4,
        description: "drydock-rs: generations, indexes, wider text columns, designs",
        sql: r#"
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS generation bigint NOT NULL DEFAULT 0;
ALTER TABLE tasks ALTER COLUMN result_message TYPE text, ALTER COLUMN result_reason TYPE text,
    ALTER COLUMN result_successes TYPE text[], ALTER COLUMN result_failures TYPE text[],
    ALTER COLUMN created_by TYPE text, ALTER COLUMN terminated_by TYPE text, ALTER COLUMN design_ref TYPE text;
ALTER TABLE build_data ALTER COLUMN node_name TYPE varchar(280), ALTER COLUMN data_format TYPE varchar(128);
CREATE INDEX IF NOT EXISTS ix_tasks_status_created ON tasks (status, created, task_id);
CREATE INDEX IF NOT EXISTS ix_tasks_created ON tasks (created, task_id);
CREATE INDEX IF NOT EXISTS ix_tasks_parent_task_id ON tasks (parent_task_id, created, task_id);
CREATE INDEX IF NOT EXISTS ix_result_message_task_id ON result_message (task_id, sequence);
CREATE TABLE IF NOT EXISTS drydock_designs (
    design_id bytea PRIMARY KEY,
    created timestamp NOT NULL
);
CREATE TABLE IF NOT EXISTS drydock_design_parts (
    design_id bytea NOT NULL REFERENCES drydock_designs (design_id) ON DELETE CASCADE,
    sequence integer NOT NULL,
    source text NOT NULL,
    content bytea NOT NULL,
    added timestamp NOT NULL,
    PRIMARY KEY (design_id, sequence)
);
"#,
    },
    Migration {
        version: 5,
        description: "drydock-rs: probe table for the writability health check",
        sql: r#"
CREATE TABLE IF NOT EXISTS drydock_probe (
    name text PRIMARY KEY,
    written timestamp NOT NULL
);
"#,
    },
    Migration {
        version: 6,
        description: "drydock-rs: task leases (replicas share the work)",
        sql: r#"
CREATE TABLE IF NOT EXISTS drydock_task_leases (
    task_id bytea PRIMARY KEY,
    holder bytea,
    expires timestamp NOT NULL,
    claim text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS ix_tasks_running_roots ON tasks (created, task_id) WHERE status = 'running' AND parent_task_id IS NULL;
"#,
    },
];
