//! The core read models' names, versions, tables and DDL: `registry`, `keys`, `activity`, `alarms`, `citations`.
//!
//! A version bump clears and refolds that projection alone (its tables are dropped and re-created from here).

/// `registry`: districts, enterprises, projects, participants.
pub(crate) mod registry {
    /// Name in `projection_checkpoints`.
    pub(crate) const NAME: &str = "registry";
    /// Code version.
    pub(crate) const VERSION: i64 = 1;
    /// Tables.
    pub(crate) const TABLES: &[&str] = &["districts", "enterprises", "projects", "participants"];
    /// DDL.
    pub(crate) const DDL: &[&str] = &[
        "CREATE TABLE IF NOT EXISTS districts (
        code     TEXT PRIMARY KEY,
        name     TEXT NOT NULL,
        fixed    BIGINT NOT NULL,
        position BIGINT
    )",
        "CREATE TABLE IF NOT EXISTS enterprises (
        credit_code TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        types       TEXT NOT NULL,
        position    BIGINT NOT NULL
    )",
        "CREATE TABLE IF NOT EXISTS projects (
        project_id        TEXT PRIMARY KEY,
        name              TEXT NOT NULL,
        district          TEXT NOT NULL,
        central_urban     BIGINT NOT NULL,
        floor_area_m2     TEXT NOT NULL,
        contract_cost_fen BIGINT NOT NULL,
        start_date        TEXT NOT NULL,
        registered_at     TEXT NOT NULL,
        position          BIGINT NOT NULL
    )",
        "CREATE INDEX IF NOT EXISTS projects_district ON projects (district, project_id)",
        "CREATE TABLE IF NOT EXISTS participants (
        project_id  TEXT NOT NULL,
        role        TEXT NOT NULL,
        credit_code TEXT NOT NULL,
        position    BIGINT NOT NULL,
        PRIMARY KEY (project_id, role, credit_code)
    )",
        "CREATE INDEX IF NOT EXISTS participants_credit ON participants (credit_code, project_id)",
    ];
}

/// `keys`: signer keys and per-signer statistics.
pub(crate) mod keys {
    /// Name in `projection_checkpoints`.
    pub(crate) const NAME: &str = "keys";
    /// Code version.
    pub(crate) const VERSION: i64 = 1;
    /// Tables.
    pub(crate) const TABLES: &[&str] = &["signer_keys", "signer_stats"];
    /// DDL.
    pub(crate) const DDL: &[&str] = &[
        "CREATE TABLE IF NOT EXISTS signer_keys (
        key_id            TEXT PRIMARY KEY,
        public_key        TEXT NOT NULL,
        subject           TEXT NOT NULL,
        role              TEXT NOT NULL,
        valid_from        TEXT NOT NULL,
        valid_until       TEXT,
        subject_project   TEXT,
        subject_org       TEXT,
        enrolled_by       TEXT NOT NULL,
        enrolled_event_id TEXT NOT NULL,
        position          BIGINT NOT NULL,
        revoked_at        TEXT,
        revoked_reason    TEXT,
        revoked_position  BIGINT
    )",
        // The keys' listing order (`ReadDb::keys_page`): a page seeks here instead of sorting every key.
        "CREATE INDEX IF NOT EXISTS signer_keys_order ON signer_keys (position, key_id)",
        "CREATE TABLE IF NOT EXISTS signer_stats (
        key_id           TEXT PRIMARY KEY,
        records          BIGINT NOT NULL,
        last_position    BIGINT NOT NULL,
        last_occurred_at TEXT NOT NULL,
        last_seq         BIGINT NOT NULL,
        gaps             BIGINT NOT NULL,
        missing          BIGINT NOT NULL,
        equivocations    BIGINT NOT NULL
    )",
    ];
}

/// `activity`: per-project timeline, counts per kind and per day.
pub(crate) mod activity {
    /// Name in `projection_checkpoints`.
    pub(crate) const NAME: &str = "activity";
    /// Code version (2: `project_days.district`).
    pub(crate) const VERSION: i64 = 2;
    /// Tables.
    pub(crate) const TABLES: &[&str] = &["project_events", "project_stats", "project_kinds", "project_days"];
    /// DDL.
    pub(crate) const DDL: &[&str] = &[
        "CREATE TABLE IF NOT EXISTS project_events (
        position    BIGINT PRIMARY KEY,
        project_id  TEXT NOT NULL,
        stream      TEXT NOT NULL,
        event_id    TEXT NOT NULL,
        kind        TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        occurred_us BIGINT NOT NULL,
        signer      TEXT NOT NULL,
        summary     TEXT NOT NULL
    )",
        "CREATE INDEX IF NOT EXISTS project_events_project ON project_events (project_id, position)",
        "CREATE INDEX IF NOT EXISTS project_events_event ON project_events (event_id)",
        // The retention pass (`ReadDb::prune_site_raw`) deletes the records before the raw period in small batches.
        "CREATE INDEX IF NOT EXISTS project_events_occurred ON project_events (occurred_us)",
        "CREATE TABLE IF NOT EXISTS project_stats (
        project_id       TEXT PRIMARY KEY,
        events           BIGINT NOT NULL,
        last_position    BIGINT NOT NULL,
        last_occurred_at TEXT NOT NULL,
        last_occurred_us BIGINT NOT NULL
    )",
        "CREATE TABLE IF NOT EXISTS project_kinds (
        project_id       TEXT NOT NULL,
        kind             TEXT NOT NULL,
        events           BIGINT NOT NULL,
        last_position    BIGINT NOT NULL,
        last_occurred_at TEXT NOT NULL,
        last_occurred_us BIGINT NOT NULL,
        PRIMARY KEY (project_id, kind)
    )",
        "CREATE TABLE IF NOT EXISTS project_days (
        project_id    TEXT NOT NULL,
        day           TEXT NOT NULL,
        events        BIGINT NOT NULL,
        last_position BIGINT NOT NULL,
        district      TEXT,
        PRIMARY KEY (project_id, day)
    )",
        // The district overview counts a day's projects per district from this index alone.
        "CREATE INDEX IF NOT EXISTS project_days_day ON project_days (day, district)",
    ];
}

/// `alarms`: raised and cleared alarms, and the ledger's gap and equivocation notices as violations.
pub(crate) mod alarms {
    /// Name in `projection_checkpoints`.
    pub(crate) const NAME: &str = "alarms";
    /// Code version (2: `alarms.district`).
    pub(crate) const VERSION: i64 = 2;
    /// Tables.
    pub(crate) const TABLES: &[&str] = &["alarms"];
    /// DDL.
    pub(crate) const DDL: &[&str] = &[
        "CREATE TABLE IF NOT EXISTS alarms (
        alarm_key        TEXT PRIMARY KEY,
        project_id       TEXT,
        alarm_id         TEXT NOT NULL,
        source           TEXT NOT NULL,
        category         TEXT NOT NULL,
        level            TEXT NOT NULL,
        message          TEXT NOT NULL,
        value            TEXT,
        threshold        TEXT,
        key_id           TEXT,
        event_id         TEXT NOT NULL,
        raised_at        TEXT NOT NULL,
        raised_us        BIGINT NOT NULL,
        raised_day       TEXT NOT NULL,
        position         BIGINT NOT NULL,
        open             BIGINT NOT NULL,
        cleared_at       TEXT,
        cleared_note     TEXT,
        cleared_position BIGINT,
        cleared_event_id TEXT,
        district         TEXT
    )",
        "CREATE INDEX IF NOT EXISTS alarms_project ON alarms (project_id, position)",
        // A project's open alarms (the project list counts them per project).
        "CREATE INDEX IF NOT EXISTS alarms_open ON alarms (open, project_id)",
        // The district overview counts open alarms and a day's alarms per district from these indexes alone.
        "CREATE INDEX IF NOT EXISTS alarms_open_district ON alarms (open, district)",
        "CREATE INDEX IF NOT EXISTS alarms_day ON alarms (raised_day, district)",
        "CREATE INDEX IF NOT EXISTS alarms_position ON alarms (position)",
    ];
}

/// `citations`: which records cite which attachment (附件) by SHA-256.
pub(crate) mod citations {
    /// Name in `projection_checkpoints`.
    pub(crate) const NAME: &str = "citations";
    /// Code version.
    pub(crate) const VERSION: i64 = 1;
    /// Tables.
    pub(crate) const TABLES: &[&str] = &["blob_citations"];
    /// DDL.
    pub(crate) const DDL: &[&str] = &["CREATE TABLE IF NOT EXISTS blob_citations (
        sha256     TEXT NOT NULL,
        position   BIGINT NOT NULL,
        project_id TEXT,
        stream     TEXT NOT NULL,
        kind       TEXT NOT NULL,
        PRIMARY KEY (sha256, position)
    )"];
}
