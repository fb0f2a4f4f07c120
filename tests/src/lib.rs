//! Helpers for the cross-crate end-to-end tests: a headless Chromium driven over the DevTools protocol
//! ([`HeadlessChromium`], [`wait_until`]) and a small signed city to feed a server through its public API
//! ([`SignedCity`]).

pub mod ha;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::handler::viewport::Viewport;
use chromiumoxide::page::{Page, ScreenshotParams};
use futures::StreamExt;
use serde_json::{Map, Value, json};
use siteledger_client::KeyedChain;
use siteledger_signer::{Envelope, SigningKey};
use time::OffsetDateTime;
use time::macros::format_description;
use uuid::Uuid;

/// How long a test waits for something that must happen before it fails. Generous on purpose: other builds and
/// test processes may keep every core busy, and every wait is on a condition, so a quiet machine never waits this
/// long. (nextest stops a test after 300 s.)
pub const PATIENCE: Duration = Duration::from_secs(240);

/// Debian's Chromium, the only browser these tests use (never a downloaded one).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The Chromium binary, or a panic that says how to install it: browser tests fail rather than skip.
pub fn chromium_or_fail() -> PathBuf {
    let path = PathBuf::from(CHROMIUM);
    assert!(
        path.exists(),
        "{CHROMIUM} is missing: the browser test needs Debian's Chromium. Install it with \
         `apt-get install -y chromium` (scripts/test.sh does this), then run the tests again."
    );
    path
}

/// A headless Chromium with a fresh profile, closed by [`HeadlessChromium::close`] (or killed when dropped).
#[derive(Debug)]
pub struct HeadlessChromium {
    browser: Browser,
    handler: tokio::task::JoinHandle<()>,
    _profile: tempfile::TempDir,
}

impl HeadlessChromium {
    /// Starts `/usr/bin/chromium` headless with the flags our closed network needs (ENGINEERING-NOTES.md).
    pub async fn launch() -> anyhow::Result<HeadlessChromium> {
        let exe = chromium_or_fail();
        let profile = tempfile::Builder::new().prefix("siteledger-chromium-").tempdir()?;
        let config = BrowserConfig::builder()
            .chrome_executable(exe)
            .no_sandbox()
            .user_data_dir(profile.path())
            .args([
                "disable-gpu",
                "disable-quic",
                "no-first-run",
                "disable-background-networking",
                "disable-component-update",
                "disable-sync",
                "disable-extensions",
            ])
            .window_size(1440, 1000)
            .viewport(Viewport {
                width: 1440,
                height: 1000,
                device_scale_factor: Some(1.0),
                emulating_mobile: false,
                is_landscape: true,
                has_touch: false,
            })
            .launch_timeout(PATIENCE)
            // Longer than any in-page wait (`wait_until`), which runs inside one DevTools request.
            .request_timeout(PATIENCE + Duration::from_secs(30))
            .build()
            .map_err(|e| anyhow::anyhow!("chromium config: {e}"))?;
        let (browser, mut handler) = Browser::launch(config).await.context("launching chromium")?;
        let handler = tokio::spawn(async move {
            // Drive the DevTools connection; messages Chromium sends that this client does not know are ignored.
            while handler.next().await.is_some() {}
        });
        Ok(HeadlessChromium { browser, handler, _profile: profile })
    }

    /// Opens a new tab at `url` and waits for it to load.
    pub async fn open(&self, url: &str) -> anyhow::Result<Page> {
        let page = self.browser.new_page(url).await.with_context(|| format!("opening {url}"))?;
        page.wait_for_navigation().await.with_context(|| format!("loading {url}"))?;
        Ok(page)
    }

    /// Opens a tab at `url` in a new browser context: its own cookies, storage and IndexedDB, as if another
    /// person's browser (people's keys live in IndexedDB, sessions in cookies).
    pub async fn open_in_new_context(&self, url: &str) -> anyhow::Result<Page> {
        use chromiumoxide::cdp::browser_protocol::target::{CreateBrowserContextParams, CreateTargetParams};
        let context = self.browser.create_browser_context(CreateBrowserContextParams::default()).await?;
        let mut params = CreateTargetParams::new(url);
        params.browser_context_id = Some(context);
        let page = self.browser.new_page(params).await.with_context(|| format!("opening {url}"))?;
        page.wait_for_navigation().await.with_context(|| format!("loading {url}"))?;
        Ok(page)
    }

    /// Opens a new tab that runs `script` before any of the page's own scripts, then loads `url`.
    pub async fn open_with_init_script(&self, url: &str, script: &str) -> anyhow::Result<Page> {
        let page = self.browser.new_page("about:blank").await.context("opening a tab")?;
        page.add_init_script(script).await.context("adding an init script")?;
        page.goto(url).await.with_context(|| format!("loading {url}"))?;
        Ok(page)
    }

    /// Closes the browser and waits for the process to exit.
    pub async fn close(mut self) {
        let _ = self.browser.close().await;
        let _ = self.browser.wait().await;
        self.handler.abort();
    }
}

/// Waits (bounded by `timeout`) until the JavaScript expression `condition` is truthy in the page. The polling runs
/// inside the page (every 50 ms); on timeout the error shows `describe` (another expression) evaluated in the page.
pub async fn wait_until(page: &Page, condition: &str, describe: &str, timeout: Duration) -> anyhow::Result<()> {
    let ms = timeout.as_millis();
    let f = format!(
        "() => new Promise((resolve) => {{
            const start = Date.now();
            const check = () => {{
                let ok = false;
                try {{ ok = !!({condition}); }} catch (e) {{ ok = false; }}
                if (ok) resolve(true);
                else if (Date.now() - start > {ms}) resolve(false);
                else setTimeout(check, 50);
            }};
            check();
        }})"
    );
    let ok: bool = page.evaluate_function(f).await.context("evaluating a wait condition")?.into_value()?;
    if ok {
        return Ok(());
    }
    let state: Value = page
        .evaluate_function(format!("() => {{ try {{ return {describe}; }} catch (e) {{ return String(e); }} }}"))
        .await
        .map(|r| r.into_value().unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    bail!("timed out after {timeout:?} waiting for `{condition}`; page state: {state}")
}

/// Evaluates a JavaScript expression and deserializes its value.
pub async fn eval<T: serde::de::DeserializeOwned>(page: &Page, expression: &str) -> anyhow::Result<T> {
    let f = format!("() => ({expression})");
    Ok(page.evaluate_function(f).await.with_context(|| format!("evaluating `{expression}`"))?.into_value()?)
}

/// Saves a full-page PNG screenshot.
pub async fn screenshot(page: &Page, path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    page.save_screenshot(ScreenshotParams::builder().full_page(true).build(), path)
        .await
        .with_context(|| format!("screenshot {}", path.display()))?;
    Ok(())
}

// -----------------------------------------------------------------------------------------------------------------
// a small signed city

/// The e2e city bureau's root key (configure its public key as a trust root).
pub fn city_key() -> SigningKey {
    SigningKey::from_seed(&[0x45; 32])
}

/// A deterministic log key for `origin` whose C2SP key string has both `+` and `/` in its base64 part, so that
/// clients must split it at the first two `+` only (a real log key has such characters about half the time).
pub fn awkward_log_key(origin: &str) -> SigningKey {
    for i in 0u8..=255 {
        let key = SigningKey::from_seed(&[i; 32]);
        let Ok(v) = siteledger_signer::note::NoteVerifier::new(origin, *key.public()) else { continue };
        let vkey = v.vkey();
        let b64 = vkey.splitn(3, '+').nth(2).unwrap_or_default();
        if b64.contains('+') && b64.contains('/') {
            return key;
        }
    }
    SigningKey::from_seed(&[0x5a; 32])
}

/// A unified social credit code with a valid GB 32100 check character.
pub fn credit_code(body17: &str) -> String {
    const CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    const W: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
    let sum: u32 = body17.chars().zip(W).map(|(c, w)| CHARS.find(c).map_or(0, |i| i as u32) * w).sum();
    let check = (31 - sum % 31) % 31;
    format!("{body17}{}", CHARS.chars().nth(check as usize).unwrap_or('0'))
}

/// Now in Beijing time as a signed `occurred_at`, so "today" counts include the record.
pub fn now_beijing() -> String {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+08:00");
    OffsetDateTime::now_utc().to_offset(siteledger_domain::time::SHANGHAI).format(&fmt).unwrap_or_default()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A signed city: the bureau's root key and one gateway per project, each with its own chain.
#[derive(Debug)]
pub struct SignedCity {
    /// The city bureau (registry records, enrollments).
    pub city: KeyedChain,
    /// `(project id, district code, gateway signer)`.
    pub projects: Vec<(String, String, KeyedChain)>,
    alarms: u64,
}

impl Default for SignedCity {
    fn default() -> Self {
        Self::new()
    }
}

impl SignedCity {
    /// Two projects: `E2E-0001` in 鄞州区 (330212) and `E2E-0002` in 海曙区 (330203).
    pub fn new() -> SignedCity {
        SignedCity {
            city: KeyedChain::new(city_key()),
            projects: vec![
                ("E2E-0001".into(), "330212".into(), KeyedChain::new(SigningKey::from_seed(&[0x46; 32]))),
                ("E2E-0002".into(), "330203".into(), KeyedChain::new(SigningKey::from_seed(&[0x47; 32]))),
            ],
            alarms: 0,
        }
    }

    fn enrollment(key: &siteledger_signer::PublicKey, subject: &str, role: &str) -> Map<String, Value> {
        obj(json!({
            "key_id": key.key_id().to_string(),
            "public_key": key.to_base64(),
            "subject": subject,
            "role": role,
            "valid_from": "2026-01-01T00:00:00+08:00",
            "valid_until": "2036-01-01T00:00:00+08:00",
        }))
    }

    /// Registration records: root enrollment, enterprises, projects with participants, gateway enrollments.
    pub fn registry(&mut self) -> anyhow::Result<Vec<Envelope>> {
        let owner = credit_code("91330200MA2E2E010");
        let gc = credit_code("91330200MA2E2E020");
        let sup = credit_code("91330200MA2E2E030");
        let at = "2026-01-05T09:00:00+08:00";
        let pk = *self.city.key().public();
        let mut out = vec![self.city.sign(
            Uuid::now_v7(),
            "registry/keys",
            "ledger.key.enrolled.v1",
            "2026-01-01T08:00:00+08:00",
            Self::enrollment(&pk, "宁波市住房和城乡建设局", "city_bureau"),
        )?];
        for (code, name, types) in [
            (&owner, "宁波甬江置业有限公司", json!(["owner"])),
            (&gc, "浙江甬城建设集团有限公司", json!(["construction"])),
            (&sup, "宁波明州工程监理有限公司", json!(["supervision"])),
        ] {
            out.push(self.city.sign(
                Uuid::now_v7(),
                "registry/orgs",
                "registry.enterprise.registered.v1",
                at,
                obj(json!({"credit_code": code, "name": name, "types": types})),
            )?);
        }
        let names = ["鄞州区东部新城人才公寓", "海曙区望春工业园厂房"];
        for (i, (id, district, _)) in self.projects.iter().enumerate() {
            let payload = json!({
                "project_id": id, "name": names[i % names.len()], "district": district, "central_urban": true,
                "floor_area_m2": "86500.00", "contract_cost_fen": 235_000_000_000_i64, "start_date": "2026-02-16",
                "participants": [
                    {"role": "owner", "credit_code": owner},
                    {"role": "general_contractor", "credit_code": gc},
                    {"role": "supervisor", "credit_code": sup},
                ],
            });
            out.push(self.city.sign(
                Uuid::now_v7(),
                "registry/orgs",
                "registry.project.registered.v1",
                at,
                obj(payload),
            )?);
        }
        for (id, _, gw) in &self.projects {
            let pk = *gw.key().public();
            out.push(self.city.sign(
                Uuid::now_v7(),
                "registry/keys",
                "ledger.key.enrolled.v1",
                "2026-01-06T09:00:00+08:00",
                Self::enrollment(&pk, &format!("project/{id}/gateway/GW-1"), "gateway"),
            )?);
        }
        Ok(out)
    }

    /// A dust and noise reading of project `i`, occurring now.
    pub fn reading(&mut self, i: usize, n: u64) -> anyhow::Result<Envelope> {
        let (id, _, gw) = &mut self.projects[i];
        Ok(gw.sign(
            Uuid::now_v7(),
            &format!("project/{id}/device/DUST-1"),
            "env.dust_noise.reading.v1",
            &now_beijing(),
            obj(json!({
                "project_id": id, "device_id": "DUST-1", "pm10_ug_m3": format!("{}.{}", 40 + n % 50, n % 10),
                "pm25_ug_m3": "28.4", "noise_db_a": format!("{}.5", 55 + n % 15),
            })),
        )?)
    }

    /// A dust alarm of project `i`, occurring now.
    pub fn alarm(&mut self, i: usize) -> anyhow::Result<Envelope> {
        self.alarms += 1;
        let n = self.alarms;
        let (id, _, gw) = &mut self.projects[i];
        Ok(gw.sign(
            Uuid::now_v7(),
            &format!("project/{id}/alarms"),
            "alarm.raised.v1",
            &now_beijing(),
            obj(json!({
                "project_id": id, "alarm_id": format!("E2E-A{n}"), "source": "DUST-1", "category": "dust",
                "level": "warning", "message": "PM10 超过预警值", "value": "96.0", "threshold": "80.0",
            })),
        )?)
    }
}

/// Posts envelopes to `POST /v1/events` and checks that every one was accepted.
pub async fn ingest(client: &reqwest::Client, base: &str, token: &str, envs: &[Envelope]) -> anyhow::Result<()> {
    let body = Value::Array(envs.iter().map(Envelope::to_value).collect());
    let resp = client.post(format!("{base}/v1/events")).bearer_auth(token).json(&body).send().await?;
    let status = resp.status();
    let v: Value = resp.json().await?;
    if !status.is_success() {
        bail!("ingest answered {status}: {v}");
    }
    for r in v["results"].as_array().context("results")? {
        if r["status"] != "accepted" {
            bail!("record not accepted: {r}");
        }
    }
    Ok(())
}
