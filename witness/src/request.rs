//! The tlog-witness `add-checkpoint` request body, parsed without I/O (C2SP tlog-witness, "add-checkpoint").
//!
//! ```text
//! old <size>\n            decimal, no leading zeros ("0" for zero)
//! <base64 hash>\n         zero to 63 consistency proof lines
//! \n
//! <signed checkpoint note>
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use siteledger_signer::Hash;

/// The largest body the witness reads: 63 proof lines and a checkpoint with many signatures fit in far less.
pub const MAX_BODY: usize = 64 * 1024;
/// The spec's bound on consistency proof lines.
pub const MAX_PROOF_LINES: usize = 63;

/// A parsed `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the client believes the witness holds.
    pub old: u64,
    /// The consistency proof from `old` to the new checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, as sent.
    pub note: String,
}

/// Why a body is not a well-formed request (answered with 400 and this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The body is larger than [`MAX_BODY`].
    #[error("请求体过大 / body larger than {MAX_BODY} bytes")]
    TooLarge,
    /// The body is not UTF-8.
    #[error("请求体不是 UTF-8 / body is not UTF-8 (at byte {0})")]
    NotUtf8(usize),
    /// The first line is not `old <size>`.
    #[error("第 1 行应为 `old <size>` / line 1 must be `old <size>`: {0}")]
    OldLine(String),
    /// A proof line is not base64 of 32 bytes.
    #[error("第 {line} 行不是 32 字节哈希的 base64 / line {line} is not base64 of a 32-byte hash")]
    ProofLine {
        /// 1-based line number.
        line: usize,
    },
    /// More proof lines than the spec allows.
    #[error("一致性证明超过 {MAX_PROOF_LINES} 行 / more than {MAX_PROOF_LINES} consistency proof lines")]
    TooManyProofLines,
    /// No blank line separates the proof from the checkpoint.
    #[error("缺少证明与检查点之间的空行 / no blank line before the checkpoint")]
    NoBlankLine,
}

/// Parses an `add-checkpoint` body. The checkpoint note itself is checked by the witness (it needs the log key).
pub fn parse(body: &[u8]) -> Result<AddCheckpoint, RequestError> {
    if body.len() > MAX_BODY {
        return Err(RequestError::TooLarge);
    }
    let text = std::str::from_utf8(body).map_err(|e| RequestError::NotUtf8(e.valid_up_to()))?;
    let (first, mut rest) = text.split_once('\n').ok_or_else(|| RequestError::OldLine("no newline".into()))?;
    let digits = first.strip_prefix("old ").ok_or_else(|| RequestError::OldLine("missing `old `".into()))?;
    let old = parse_size(digits).map_err(RequestError::OldLine)?;
    let mut proof = Vec::new();
    let mut line_no = 1;
    loop {
        line_no += 1;
        let (line, after) = rest.split_once('\n').ok_or(RequestError::NoBlankLine)?;
        rest = after;
        if line.is_empty() {
            break;
        }
        if proof.len() == MAX_PROOF_LINES {
            return Err(RequestError::TooManyProofLines);
        }
        let hash: Hash =
            B64.decode(line).ok().and_then(|h| h.try_into().ok()).ok_or(RequestError::ProofLine { line: line_no })?;
        proof.push(hash);
    }
    Ok(AddCheckpoint { old, proof, note: rest.to_owned() })
}

/// A tree size: ASCII decimal, no leading zeros (except `0` itself), within u64.
fn parse_size(s: &str) -> Result<u64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("size {:?} is not a decimal number", truncate(s)));
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err("size has a leading zero".into());
    }
    s.parse().map_err(|_| "size is larger than 2^64 - 1".into())
}

/// Bounds what an error message echoes of the input.
fn truncate(s: &str) -> &str {
    match s.char_indices().nth(32) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The request body for a checkpoint `note`, from `old` with `proof` (the client's side of [`parse`]).
pub fn encode(old: u64, proof: &[Hash], note: &str) -> String {
    let mut s = format!("old {old}\n");
    for h in proof {
        s.push_str(&B64.encode(h));
        s.push('\n');
    }
    s.push('\n');
    s.push_str(note);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_the_bad_line() {
        let body = encode(7, &[[1; 32], [2; 32]], "note\n");
        assert_eq!(
            parse(body.as_bytes()),
            Ok(AddCheckpoint { old: 7, proof: vec![[1; 32], [2; 32]], note: "note\n".into() })
        );
        assert_eq!(parse(b"old 1\nAAAA\n\nx"), Err(RequestError::ProofLine { line: 2 }));
        assert!(matches!(parse(b"old 01\n\nx"), Err(RequestError::OldLine(_))));
        assert!(matches!(parse(b"old 18446744073709551616\n\nx"), Err(RequestError::OldLine(_))));
        assert_eq!(parse(b"old 0\n"), Err(RequestError::NoBlankLine));
    }
}
