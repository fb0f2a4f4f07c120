//! The court report (电子数据核验报告) in a real browser. The report of verifying the committed v1.2 vector (three
//! witnesses named, two cosigned, policy 2 of 3) is served over real TCP; Debian's headless Chromium opens the HTML
//! report, and renders the PDF report with Debian's pdf.js (`libjs-pdf`, the browser runs it: our PDF parsed, its
//! fonts and CMaps resolved, every page painted onto a canvas), with the Adobe-GB1 CMaps of Debian's
//! `poppler-data` for `UniGB-UCS2-H` (text CMaps, read by the page's own CMap reader: pdf.js would ask for packed
//! `.bcmap` files, which Debian does not ship for Adobe-GB1). STSong-Light is not embedded, so pdf.js draws the
//! glyphs with a system CJK font (Debian's `fonts-noto-cjk`), as any reader without Adobe's font pack does. Chromium's own PDF viewer is not used: headless it paints nothing that a page
//! can read. The test asserts on text the browser extracted (the verdict, check names in Chinese, the witness
//! names), not on pixels; `qpdf --check` checks the PDF's structure. Screenshots go to
//! `target/browser-screenshots/court-report-{html,pdf}.png`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use siteledger_e2e::{HeadlessChromium, eval, screenshot, wait_until};
use siteledger_signer::bundle::verify_timestamped;
use siteledger_signer::cosignature::{WitnessPolicy, WitnessVerifier};
use siteledger_signer::court::{TrustInputs, court_report};
use siteledger_signer::note::NoteVerifier;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = siteledger_e2e::PATIENCE;
/// Debian's pdf.js (`libjs-pdf`).
const PDFJS: &str = "/usr/share/javascript/pdf/build";
/// The Adobe-GB1 CMaps in text form (Debian's `poppler-data`), which pdf.js loads with `cMapPacked: false`.
const GB1_CMAPS: &str = "/usr/share/poppler/cMap/Adobe-GB1";

fn screenshot_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map_or(tmp.clone(), |t| t.to_path_buf()).join("browser-screenshots")
}

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../signer/tests/vectors")
}

const VIEWER: &str = r#"<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>PDF</title>
<style>body{margin:0;background:#777}canvas{display:block;margin:8px auto;background:#fff}</style>
<script src="/pdfjs/pdf.js"></script></head><body>
<script>
window.__errors = [];
const lib = window.pdfjsLib || window['pdfjs-dist/build/pdf'];
lib.GlobalWorkerOptions.workerSrc = '/pdfjs/pdf.worker.js';
(async () => {
  try {
    // The CMaps are Adobe's text files (Debian ships no packed .bcmap for Adobe-GB1): read them on this side.
    class TextCMaps {
      constructor({baseUrl}) { this.baseUrl = baseUrl; }
      async fetch({name}) {
        const r = await fetch(this.baseUrl + name);
        if (!r.ok) throw new Error('CMap ' + name + ': ' + r.status);
        return {cMapData: new Uint8Array(await r.arrayBuffer()), compressionType: 0};
      }
    }
    const doc = await lib.getDocument({
      url: '/report.pdf', cMapUrl: '/cmaps/', cMapPacked: false, CMapReaderFactory: TextCMaps, useWorkerFetch: false,
    }).promise;
    let text = [];
    for (let i = 1; i <= doc.numPages; i++) {
      const page = await doc.getPage(i);
      const viewport = page.getViewport({scale: 1.25});
      const canvas = document.createElement('canvas');
      canvas.width = viewport.width; canvas.height = viewport.height;
      document.body.appendChild(canvas);
      await page.render({canvasContext: canvas.getContext('2d'), viewport}).promise;
      const content = await page.getTextContent();
      text.push(content.items.map((it) => it.str).join('\n'));
    }
    window.__text = text.join('\n');
    window.__pages = doc.numPages;
  } catch (e) {
    window.__errors.push(String(e));
  }
})();
</script></body></html>"#;

/// A static HTTP/1.1 server on 127.0.0.1 (one request per connection): the reports, the viewer page, pdf.js and
/// the CMaps.
async fn serve(html: String, pdf: Vec<u8>) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (html, pdf) = (html.clone(), pdf.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 2048];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                let path = head.split(' ').nth(1).unwrap_or("/").split('?').next().unwrap_or("/").to_owned();
                let file = |dir: &str, name: &str| {
                    let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
                    if ok { std::fs::read(Path::new(dir).join(name)).ok() } else { None }
                };
                let (status, kind, body) = match path.as_str() {
                    "/report.html" => ("200 OK", "text/html; charset=utf-8", Some(html.into_bytes())),
                    "/report.pdf" => ("200 OK", "application/pdf", Some(pdf)),
                    "/viewer.html" => ("200 OK", "text/html; charset=utf-8", Some(VIEWER.as_bytes().to_vec())),
                    p if p.starts_with("/pdfjs/") => ("200 OK", "text/javascript", file(PDFJS, &p[7..])),
                    p if p.starts_with("/cmaps/") => ("200 OK", "text/plain", file(GB1_CMAPS, &p[7..])),
                    _ => ("404 Not Found", "text/plain", None),
                };
                let (status, body) = match body {
                    Some(b) => (status, b),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                eprintln!("court report server: GET {path}: {status}");
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Ok(base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_court_report_reads_in_a_browser_as_html_and_as_pdf() -> anyhow::Result<()> {
    siteledger_e2e::chromium_or_fail();
    for (path, package) in
        [(format!("{PDFJS}/pdf.js"), "libjs-pdf"), (format!("{GB1_CMAPS}/UniGB-UCS2-H"), "poppler-data")]
    {
        assert!(
            Path::new(&path).is_file(),
            "{path} is missing: install Debian's {package} (`apt-get install -y {package}`; scripts/test.sh does this)"
        );
    }

    // A real verification: the committed v1.2 vector, three witnesses named, 2 of 3 required.
    let bytes = std::fs::read(vectors().join("bundle-v1.2.json"))?;
    let doc: Value = serde_json::from_slice(&bytes)?;
    let log_key = NoteVerifier::parse(doc["log_key"].as_str().unwrap_or_default())?;
    let cos: Value = serde_json::from_slice(&std::fs::read(vectors().join("cosignature-v1.json"))?)?;
    let witnesses = cos["witnesses"]
        .as_array()
        .map(|ws| ws.iter().filter_map(|w| w["vkey"].as_str().and_then(|k| WitnessVerifier::parse(k).ok())).collect())
        .unwrap_or_default();
    let policy = WitnessPolicy::new(witnesses, 2)?;
    let report = verify_timestamped(&bytes, &log_key, None, Some(&policy), None);
    assert!(report.ok, "{}", report.to_text());
    let trust = TrustInputs {
        log_key: &log_key,
        policy: Some(&policy),
        tsa_roots: None,
        bundle_file: "bundle.json",
        attachments_dir: None,
        tsa_root_file: None,
        verified_at: Some("2026-12-07T08:00:00+08:00"),
    };
    let court = court_report(&bytes, &report, &trust);
    let (html, pdf) = (court.to_html(), court.to_pdf());

    // qpdf reads the PDF without a structural error.
    let dir = tempfile::tempdir()?;
    let pdf_path = dir.path().join("report.pdf");
    std::fs::write(&pdf_path, &pdf)?;
    let check = std::process::Command::new("qpdf").arg("--check").arg(&pdf_path).output();
    let check = check.map_err(|e| anyhow::anyhow!("qpdf (Debian's qpdf; scripts/test.sh installs it): {e}"))?;
    let said = String::from_utf8_lossy(&check.stdout).into_owned() + &String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success() && said.contains("No syntax or stream encoding errors"), "qpdf --check: {said}");
    assert!(!said.to_lowercase().contains("warning"), "qpdf --check: {said}");

    let base = serve(html, pdf).await?;
    let shots = screenshot_dir();
    let browser = HeadlessChromium::launch().await?;
    let result = async {
        // The HTML report.
        let page = browser.open(&format!("{base}/report.html")).await?;
        wait_until(&page, "document.getElementById('verdict') !== null", "document.title", WAIT).await?;
        let verdict: String = eval(&page, "document.getElementById('verdict').innerText").await?;
        assert!(verdict.contains("核验结论：通过") && verdict.contains("VERDICT: PASSED"), "{verdict}");
        let text: String = eval(&page, "document.body.innerText").await?;
        for needle in ["见证人策略", "记录签名", "日志包含证明", "witness.example/w1", "witness.example/w3", "第十六条"]
        {
            assert!(text.contains(needle), "the HTML report shows no {needle}");
        }
        let scripts: u32 = eval(&page, "document.scripts.length").await?;
        assert_eq!(scripts, 0, "the report runs no script");
        screenshot(&page, &shots.join("court-report-html.png")).await?;

        // The PDF report, rendered by pdf.js in the browser.
        let page = browser.open(&format!("{base}/viewer.html")).await?;
        wait_until(
            &page,
            "window.__pages > 0 || window.__errors.length > 0",
            "({errors: window.__errors, pages: window.__pages})",
            WAIT,
        )
        .await?;
        let errors: Vec<String> = eval(&page, "window.__errors").await?;
        assert!(errors.is_empty(), "pdf.js: {errors:?}");
        let pages: u32 = eval(&page, "window.__pages").await?;
        assert!(pages >= 2, "{pages} pages");
        let canvases: u32 = eval(&page, "document.querySelectorAll('canvas').length").await?;
        assert_eq!(canvases, pages);
        let text: String = eval(&page, "window.__text").await?;
        let flat: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        for needle in
            ["核验结论：通过", "VERDICT:PASSED", "见证人策略", "记录签名", "witness.example/w1", "witness.example/w3"]
        {
            assert!(flat.contains(needle), "the PDF as pdf.js read it has no {needle}: {text}");
        }
        screenshot(&page, &shots.join("court-report-pdf.png")).await?;
        anyhow::Ok(())
    }
    .await;
    browser.close().await;
    result
}
