//! The `site` projection's tables: their names and their `CREATE` statements (SQLite and PostgreSQL).

/// Tables this projection owns.
pub(crate) const TABLES: &[&str] = &[
    "site_policies",
    "site_readings",
    "site_latest",
    "site_windows",
    "site_window_sums",
    "site_alarms",
    "site_devices",
    "site_crane_cycles",
    "site_crane_days",
    "site_hoist_checks",
    "site_meters",
    "site_meter_days",
    "site_cameras",
    "site_camera_state",
    "site_camera_days",
    "site_gateways",
    "site_rollup_hour",
    "site_rollup_day",
    "site_horizon",
    "site_summary",
];
/// Their `CREATE TABLE IF NOT EXISTS` / `CREATE INDEX IF NOT EXISTS` statements (SQLite and PostgreSQL).
pub(crate) const DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS site_policies (
        kind         TEXT NOT NULL,
        jurisdiction TEXT NOT NULL,
        version      BIGINT NOT NULL,
        effective_us BIGINT NOT NULL,
        payload      TEXT NOT NULL,
        event_id     TEXT NOT NULL,
        position     BIGINT NOT NULL,
        PRIMARY KEY (kind, jurisdiction, version)
    )",
    "CREATE TABLE IF NOT EXISTS site_readings (
        event_id   TEXT NOT NULL,
        metric     TEXT NOT NULL,
        project_id TEXT NOT NULL,
        device_id  TEXT NOT NULL,
        cn         TEXT NOT NULL,
        at_us      BIGINT NOT NULL,
        value      TEXT NOT NULL,
        counts     BIGINT NOT NULL,
        position   BIGINT NOT NULL,
        PRIMARY KEY (event_id, metric)
    )",
    "CREATE INDEX IF NOT EXISTS site_readings_series ON site_readings (project_id, device_id, metric, at_us)",
    // The retention job (`ReadDb::prune_site_raw`) deletes the oldest readings in small batches.
    "CREATE INDEX IF NOT EXISTS site_readings_at ON site_readings (at_us)",
    "CREATE TABLE IF NOT EXISTS site_latest (
        project_id TEXT NOT NULL,
        device_id  TEXT NOT NULL,
        metric     TEXT NOT NULL,
        at_us      BIGINT NOT NULL,
        at         TEXT NOT NULL,
        value      TEXT NOT NULL,
        flag       TEXT,
        event_id   TEXT NOT NULL,
        PRIMARY KEY (project_id, device_id, metric)
    )",
    "CREATE TABLE IF NOT EXISTS site_windows (
        project_id      TEXT NOT NULL,
        district        TEXT NOT NULL,
        device_id       TEXT NOT NULL,
        metric          TEXT NOT NULL,
        window_start_us BIGINT NOT NULL,
        window_min      BIGINT NOT NULL,
        value           TEXT NOT NULL,
        readings        BIGINT NOT NULL,
        band            TEXT NOT NULL,
        limit_value     TEXT,
        warn_value      TEXT,
        night           BIGINT NOT NULL,
        policy          TEXT NOT NULL,
        PRIMARY KEY (project_id, device_id, metric, window_start_us)
    )",
    "CREATE INDEX IF NOT EXISTS site_windows_district ON site_windows (district, metric, window_start_us)",
    // A window's running sums per data fineness (`domain::site::alarms::WindowSums`), so judging a window after a
    // reading never re-reads its readings. Keyed by the window length too: a policy may change it. `sum` is an f64
    // in Rust's shortest round-trip form; `cited` the first readings in window order, `[[at_us, event_id], …]`.
    "CREATE TABLE IF NOT EXISTS site_window_sums (
        project_id      TEXT NOT NULL,
        device_id       TEXT NOT NULL,
        metric          TEXT NOT NULL,
        window_start_us BIGINT NOT NULL,
        window_min      BIGINT NOT NULL,
        tier            BIGINT NOT NULL,
        readings        BIGINT NOT NULL,
        value_sum       TEXT NOT NULL,
        cited           TEXT NOT NULL,
        PRIMARY KEY (project_id, device_id, metric, window_start_us, window_min, tier)
    )",
    "CREATE TABLE IF NOT EXISTS site_alarms (
        alarm_key  TEXT PRIMARY KEY,
        base       TEXT NOT NULL,
        project_id TEXT NOT NULL,
        district   TEXT NOT NULL,
        device_id  TEXT NOT NULL,
        rule       TEXT NOT NULL,
        level      TEXT NOT NULL,
        message    TEXT NOT NULL,
        value      TEXT,
        threshold  TEXT,
        at_us      BIGINT NOT NULL,
        day        TEXT NOT NULL,
        open       BIGINT NOT NULL,
        cleared_us BIGINT,
        cleared_event_id TEXT,
        samples    BIGINT NOT NULL,
        event_ids  TEXT NOT NULL,
        position   BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS site_alarms_project ON site_alarms (project_id, at_us)",
    "CREATE INDEX IF NOT EXISTS site_alarms_base ON site_alarms (base, open)",
    "CREATE INDEX IF NOT EXISTS site_alarms_day ON site_alarms (district, day)",
    // The overview counts a day's alarms and the open ones per project (`site::summary`): by these, it reads those
    // alarms, not every project's history.
    "CREATE INDEX IF NOT EXISTS site_alarms_day_project ON site_alarms (day, project_id)",
    "CREATE INDEX IF NOT EXISTS site_alarms_open_project ON site_alarms (open, project_id)",
    // The newest alarms of the city or a district (`/site`, `/v1/site/alarms`): read in this order, not sorted.
    "CREATE INDEX IF NOT EXISTS site_alarms_at ON site_alarms (at_us)",
    "CREATE TABLE IF NOT EXISTS site_devices (
        project_id       TEXT NOT NULL,
        device_id        TEXT NOT NULL,
        family           TEXT NOT NULL,
        latest           TEXT NOT NULL,
        at_us            BIGINT NOT NULL,
        operator_ref     TEXT,
        cert_valid_until TEXT,
        login_event_id   TEXT,
        event_id         TEXT NOT NULL,
        PRIMARY KEY (project_id, device_id)
    )",
    "CREATE TABLE IF NOT EXISTS site_crane_cycles (
        event_id          TEXT PRIMARY KEY,
        project_id        TEXT NOT NULL,
        device_id         TEXT NOT NULL,
        started_us        BIGINT NOT NULL,
        started_at        TEXT NOT NULL,
        ended_at          TEXT NOT NULL,
        max_load_t        TEXT NOT NULL,
        max_moment_pct    TEXT NOT NULL,
        max_wind_m_s      TEXT NOT NULL,
        radius_m          TEXT NOT NULL,
        height_m          TEXT NOT NULL,
        over_moment_count BIGINT NOT NULL,
        operator_ref      TEXT,
        band              TEXT NOT NULL,
        operator_issue    TEXT,
        position          BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS site_crane_cycles_project ON site_crane_cycles (project_id, started_us)",
    // The retention pass deletes the cycles that started before the raw period in small batches.
    "CREATE INDEX IF NOT EXISTS site_crane_cycles_started ON site_crane_cycles (started_us)",
    // A crane's work cycles per Asia/Shanghai day of their start (issue 16): kept for ever, the cycles themselves
    // only for the raw period. Counted as the cycle's judgement found them: cycles in the warning and violation
    // bands, the over-moment events (Σ `over_moment_count`), and cycles with an operator issue.
    "CREATE TABLE IF NOT EXISTS site_crane_days (
        project_id       TEXT NOT NULL,
        device_id        TEXT NOT NULL,
        day              TEXT NOT NULL,
        cycles           BIGINT NOT NULL,
        warning          BIGINT NOT NULL,
        violation        BIGINT NOT NULL,
        over_moment      BIGINT NOT NULL,
        operator_issues  BIGINT NOT NULL,
        PRIMARY KEY (project_id, device_id, day)
    )",
    "CREATE TABLE IF NOT EXISTS site_hoist_checks (
        project_id           TEXT NOT NULL,
        device_id            TEXT NOT NULL,
        calibrated_on        TEXT,
        valid_until          TEXT,
        certificate_no       TEXT,
        calibration_event_id TEXT,
        last_drop_test       TEXT,
        last_drop_passed     BIGINT,
        last_passed_drop     TEXT,
        drop_event_id        TEXT,
        PRIMARY KEY (project_id, device_id)
    )",
    "CREATE TABLE IF NOT EXISTS site_meters (
        project_id    TEXT NOT NULL,
        device_id     TEXT NOT NULL,
        meter         TEXT NOT NULL,
        last_total    TEXT NOT NULL,
        last_read_us  BIGINT NOT NULL,
        last_read_at  TEXT NOT NULL,
        residual_ma   TEXT,
        temperature_c TEXT,
        last_event_id TEXT NOT NULL,
        PRIMARY KEY (project_id, device_id, meter)
    )",
    "CREATE TABLE IF NOT EXISTS site_meter_days (
        project_id  TEXT NOT NULL,
        device_id   TEXT NOT NULL,
        meter       TEXT NOT NULL,
        day         TEXT NOT NULL,
        consumption TEXT NOT NULL,
        readings    BIGINT NOT NULL,
        PRIMARY KEY (project_id, device_id, meter, day)
    )",
    "CREATE TABLE IF NOT EXISTS site_cameras (
        project_id        TEXT NOT NULL,
        device_id         TEXT NOT NULL,
        name              TEXT NOT NULL,
        position_name     TEXT NOT NULL,
        registered        BIGINT NOT NULL,
        status            TEXT NOT NULL,
        status_us         BIGINT NOT NULL,
        last_keepalive_at TEXT,
        event_id          TEXT NOT NULL,
        PRIMARY KEY (project_id, device_id)
    )",
    // 在线率 over time (`domain::site::uptime`): each camera's latest report in time order (its timeline) and the
    // reports that came signed before it (late, ignored), and per local day the time credited online and the time
    // the timeline covers. A report updates one state row and the day rows of the span it closes.
    "CREATE TABLE IF NOT EXISTS site_camera_state (
        project_id   TEXT NOT NULL,
        device_id    TEXT NOT NULL,
        online       BIGINT NOT NULL,
        at_us        BIGINT NOT NULL,
        late_reports BIGINT NOT NULL,
        PRIMARY KEY (project_id, device_id)
    )",
    "CREATE TABLE IF NOT EXISTS site_camera_days (
        project_id TEXT NOT NULL,
        device_id  TEXT NOT NULL,
        day        TEXT NOT NULL,
        online_us  BIGINT NOT NULL,
        known_us   BIGINT NOT NULL,
        PRIMARY KEY (project_id, device_id, day)
    )",
    "CREATE TABLE IF NOT EXISTS site_gateways (
        project_id       TEXT NOT NULL,
        gateway_id       TEXT NOT NULL,
        at               TEXT NOT NULL,
        at_us            BIGINT NOT NULL,
        queue_depth      BIGINT NOT NULL,
        queue_bytes      BIGINT NOT NULL,
        clock_skew_ms    BIGINT,
        rejected_packets BIGINT NOT NULL,
        deviations       BIGINT NOT NULL,
        event_id         TEXT NOT NULL,
        PRIMARY KEY (project_id, gateway_id)
    )",
    // Roll-ups (issue 16): per device, metric and hour (local hours are UTC hours: Asia/Shanghai is UTC+8) or local
    // day, the counting readings of the finest data present (`tier`, as windows: 0 real-time … 3 daily): count,
    // Σ value (Σ 10^(L/10) for noise, so the mean is a Leq), min and max as sent, and the minutes of judged windows
    // starting in the bucket that were in the violation / warning band. Kept forever; the raw readings only for
    // the raw period (`docs/SITE.md`, "Retention").
    "CREATE TABLE IF NOT EXISTS site_rollup_hour (
        project_id TEXT NOT NULL,
        district   TEXT NOT NULL,
        device_id  TEXT NOT NULL,
        metric     TEXT NOT NULL,
        bucket_us  BIGINT NOT NULL,
        tier       BIGINT NOT NULL,
        readings   BIGINT NOT NULL,
        value_sum  TEXT NOT NULL,
        min_value  TEXT,
        max_value  TEXT,
        exceed_min BIGINT NOT NULL,
        warn_min   BIGINT NOT NULL,
        PRIMARY KEY (project_id, device_id, metric, bucket_us)
    )",
    "CREATE INDEX IF NOT EXISTS site_rollup_hour_district ON site_rollup_hour (district, metric, bucket_us)",
    "CREATE TABLE IF NOT EXISTS site_rollup_day (
        project_id TEXT NOT NULL,
        district   TEXT NOT NULL,
        device_id  TEXT NOT NULL,
        metric     TEXT NOT NULL,
        bucket_us  BIGINT NOT NULL,
        tier       BIGINT NOT NULL,
        readings   BIGINT NOT NULL,
        value_sum  TEXT NOT NULL,
        min_value  TEXT,
        max_value  TEXT,
        exceed_min BIGINT NOT NULL,
        warn_min   BIGINT NOT NULL,
        PRIMARY KEY (project_id, device_id, metric, bucket_us)
    )",
    "CREATE INDEX IF NOT EXISTS site_rollup_day_district ON site_rollup_day (district, metric, bucket_us)",
    // The latest reading time folded (never later than its record's `occurred_at`, which the ledger bounds by its
    // clock): the raw period ends here. From the log alone, so a rebuild draws the same line.
    "CREATE TABLE IF NOT EXISTS site_horizon (
        id         BIGINT PRIMARY KEY,
        horizon_us BIGINT NOT NULL
    )",
    // Each project's overview summary (`site::summary`): `changed` is the position of its newest site record folded
    // (set by the fold), `computed` the one its stored values were computed from (set by the refresh; -1: never);
    // the values are a cache of the site tables, recomputed while `changed > computed`.
    "CREATE TABLE IF NOT EXISTS site_summary (
        project_id      TEXT PRIMARY KEY,
        changed         BIGINT NOT NULL,
        computed        BIGINT NOT NULL,
        has_data        BIGINT NOT NULL,
        pm10            TEXT,
        pm25            TEXT,
        noise           TEXT,
        wind            TEXT,
        latest_at       TEXT,
        cameras         BIGINT NOT NULL,
        cameras_online  BIGINT NOT NULL,
        lifting_devices BIGINT NOT NULL
    )",
];
