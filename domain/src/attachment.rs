//! Attachments (附件) as records cite them: the media type found in a file's first bytes ([`sniff`]), the one rule
//! of what a stored file is served as, shared by the platform's attachment store and the producers' agent (which
//! answers its local `POST /v1/blobs` with it). Pure: no I/O. docs/ATTACHMENTS.md.

/// The media type of `bytes`, from their first bytes: PDF, JPEG, PNG, WebP, GIF, the ZIP-based office formats
/// (docx, xlsx, pptx; other ZIP files as `application/zip`), IFC (STEP physical file, ISO 10303-21), UTF-8 text;
/// anything else is `application/octet-stream`. Pure; never panics. Never answers a type a browser would run
/// (HTML, SVG, JavaScript): text is served as `text/plain`.
pub fn sniff(bytes: &[u8]) -> &'static str {
    let head = &bytes[..bytes.len().min(4096)];
    if head.starts_with(b"%PDF-") {
        return "application/pdf";
    }
    if head.starts_with(&[0xff, 0xd8, 0xff]) {
        return "image/jpeg";
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return "image/png";
    }
    if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        return "image/webp";
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return "image/gif";
    }
    if head.starts_with(b"PK\x03\x04") {
        return sniff_zip(bytes);
    }
    let text = trim_bom(head);
    if text.starts_with(b"ISO-10303-21;") {
        return "application/x-step";
    }
    if looks_like_text(bytes) {
        return "text/plain; charset=utf-8";
    }
    "application/octet-stream"
}

fn trim_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b)
}

/// An OOXML package names its parts in the ZIP's local file headers: `word/…`, `xl/…`, `ppt/…` next to
/// `[Content_Types].xml`. A plain scan of the names is enough to tell them apart; anything else is a ZIP.
fn sniff_zip(bytes: &[u8]) -> &'static str {
    let scan = &bytes[..bytes.len().min(64 * 1024)];
    let has = |needle: &[u8]| scan.windows(needle.len()).any(|w| w == needle);
    if has(b"[Content_Types].xml") {
        if has(b"word/") {
            return "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
        }
        if has(b"xl/") {
            return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
        }
        if has(b"ppt/") {
            return "application/vnd.openxmlformats-officedocument.presentationml.presentation";
        }
    }
    "application/zip"
}

/// UTF-8 (a cut multi-byte character at the end of a long file is fine) without control characters other than
/// tab, line feed, carriage return and form feed.
fn looks_like_text(bytes: &[u8]) -> bool {
    if bytes.is_empty() {
        return false;
    }
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        // Only a character cut by the 64 KiB window may be incomplete.
        Err(e) if e.error_len().is_none() && head.len() < bytes.len() => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    valid.chars().all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\u{c}'))
}

#[cfg(test)]
mod tests {
    use super::sniff;

    #[test]
    fn sniffs_the_common_evidence_types() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), "application/pdf");
        assert_eq!(sniff(&[0xff, 0xd8, 0xff, 0xe0, 0, 0x10]), "image/jpeg");
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0"), "image/png");
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), "image/webp");
        assert_eq!(
            sniff(b"PK\x03\x04....[Content_Types].xml....word/document.xml"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        );
        assert_eq!(
            sniff(b"PK\x03\x04....[Content_Types].xml....xl/workbook.xml"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        assert_eq!(sniff(b"PK\x03\x04 plain.txt"), "application/zip");
        assert_eq!(sniff(b"ISO-10303-21;\nHEADER;"), "application/x-step");
        assert_eq!(sniff("监理日志 2026-03-12\n".as_bytes()), "text/plain; charset=utf-8");
        assert_eq!(sniff(b"\x00\x01\x02binary"), "application/octet-stream");
        assert_eq!(sniff(b""), "application/octet-stream");
        // A page a browser would run is served as plain text, never as HTML or SVG.
        assert_eq!(sniff(b"<html><script>alert(1)</script></html>"), "text/plain; charset=utf-8");
        assert_eq!(sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), "text/plain; charset=utf-8");
    }

    /// Every prefix of every kind of input, and every single-byte value, is answered without a panic.
    #[test]
    fn sniff_never_panics_on_truncated_or_arbitrary_input() {
        let samples: [&[u8]; 6] = [
            b"%PDF-1.4 x",
            b"RIFF\x10\0\0\0WEBP",
            b"PK\x03\x04[Content_Types].xml word/",
            b"ISO-10303-21;",
            "文本\u{feff}".as_bytes(),
            &[0xef, 0xbb, 0xbf, 0xe5, 0xb7],
        ];
        for s in samples {
            for end in 0..=s.len() {
                let _ = sniff(&s[..end]);
            }
        }
        for b in 0..=255u8 {
            let _ = sniff(&[b]);
            let _ = sniff(&[b; 70_000]);
        }
    }
}
