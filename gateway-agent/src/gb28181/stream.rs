//! SIP over TCP (RFC 3261 §18.3): a framer that splits a byte stream into messages by `Content-Length`, in a
//! bounded buffer.
//!
//! The caller pushes bytes as they are read and takes messages out. An error the framer can step over (a message
//! whose head says where it ends but which fails its checks) is returned and the stream goes on; an error that
//! loses the message boundary (no `Content-Length`, a bad one, a head or body over the limits, a head that is not
//! SIP) is *fatal*: every later call answers [`StreamError::Closed`] and the connection should be closed. CR/LF
//! between messages (RFC 5626 keep-alives, §7.5 stray line ends) is skipped.

use super::sip::{Head, Limits, Message, Part, SipError, parse_head};

/// What the framer says about the bytes at the front of its buffer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// One message was dropped; the stream continues after it.
    #[error("{0} (message skipped)")]
    Skipped(SipError),
    /// The message boundary is lost; close the connection.
    #[error("{0} (stream closed)")]
    Fatal(SipError),
    /// A fatal error was reported before.
    #[error("the SIP stream was closed after a fatal error")]
    Closed,
}

impl StreamError {
    /// A stable name for counters.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Skipped(e) | Self::Fatal(e) => e.name(),
            Self::Closed => "sip_stream_closed",
        }
    }
}

/// The TCP framer: owns a buffer bounded by `max_head + max_body`.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
    limits: Limits,
    closed: bool,
}

impl StreamFramer {
    /// A framer with these limits.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Self { buf: Vec::new(), limits, closed: false }
    }

    /// The most bytes it will hold.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.limits.max_head + self.limits.max_body
    }

    /// Bytes held and not yet framed.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// How many bytes [`push`](Self::push) takes now: read at most this much from the socket, then take the
    /// messages out; a whole message always fits, so a full buffer means the sender is not speaking SIP.
    #[must_use]
    pub fn room(&self) -> usize {
        self.capacity() - self.buf.len()
    }

    /// Appends bytes read from the socket. Refuses (fatally) bytes that would grow the buffer past
    /// [`capacity`](Self::capacity): a sender that fills it without completing a message is not speaking SIP.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), StreamError> {
        if self.closed {
            return Err(StreamError::Closed);
        }
        let size = self.buf.len() + bytes.len();
        if size > self.capacity() {
            self.close();
            return Err(StreamError::Fatal(SipError::TooLarge { part: Part::Head, size, max: self.capacity() }));
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// The next whole message, `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Message>, StreamError> {
        if self.closed {
            return Err(StreamError::Closed);
        }
        let blank = self.buf.iter().position(|b| !matches!(b, b'\r' | b'\n')).unwrap_or(self.buf.len());
        self.buf.drain(..blank);
        if self.buf.is_empty() {
            return Ok(None);
        }
        let head = match parse_head(&self.buf, &self.limits) {
            Ok(Some(head)) => head,
            Ok(None) => return Ok(None),
            Err(e) => return self.after_head_error(e).map_or(Ok(None), Err),
        };
        let Head { mut message, body_at, content_length } = head;
        let Some(length) = content_length else {
            self.close();
            return Err(StreamError::Fatal(SipError::MissingContentLength));
        };
        let end = body_at + length;
        if self.buf.len() < end {
            return Ok(None);
        }
        message.body = self.buf[body_at..end].to_vec();
        self.buf.drain(..end);
        message.check().map_err(StreamError::Skipped)?;
        Ok(Some(message))
    }

    /// When the stream ends: leftover bytes other than line ends are a truncated message.
    pub fn finish(&mut self) -> Result<(), StreamError> {
        if self.closed {
            return Err(StreamError::Closed);
        }
        if self.buf.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            return Ok(());
        }
        let have = self.buf.len();
        let error = match parse_head(&self.buf, &self.limits) {
            Ok(Some(Head { body_at, content_length: Some(declared), .. })) => {
                SipError::TruncatedBody { declared, actual: have - body_at }
            }
            _ => SipError::TruncatedHead { have },
        };
        self.close();
        Err(StreamError::Fatal(error))
    }

    /// A broken head: when a `Content-Length` can still be read from it, the message is skipped (once all of it is
    /// here: `None` until then); otherwise the boundary is lost.
    fn after_head_error(&mut self, error: SipError) -> Option<StreamError> {
        if let Some((body_at, _)) = super::sip::head_end(&self.buf)
            && !matches!(error, SipError::TooLarge { .. } | SipError::BadContentLength { .. })
            && let Some(length) = loose_content_length(&self.buf[..body_at])
            && length <= self.limits.max_body
        {
            if self.buf.len() < body_at + length {
                return None;
            }
            self.buf.drain(..body_at + length);
            return Some(StreamError::Skipped(error));
        }
        self.close();
        Some(StreamError::Fatal(error))
    }

    fn close(&mut self) {
        self.closed = true;
        self.buf = Vec::new();
    }
}

/// `Content-Length` (or `l`) read line by line from a head that failed to parse, when exactly one clean value is
/// there.
fn loose_content_length(head: &[u8]) -> Option<usize> {
    let mut found = None;
    for line in head.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else { continue };
        let name = line[..colon].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            let value = std::str::from_utf8(line[colon + 1..].trim_ascii()).ok()?;
            if value.is_empty() || value.len() > 9 || !value.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: usize = value.parse().ok()?;
            if found.is_some_and(|f| f != n) {
                return None;
            }
            found = Some(n);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(call: &str, body: &str) -> Vec<u8> {
        format!(
            "MESSAGE sip:34020000002000000001@3402000000 SIP/2.0\r\n\
             Via: SIP/2.0/TCP 10.0.0.5:5060;branch=z9hG4bK{call}\r\n\
             From: <sip:34020000001320000001@3402000000>;tag=1\r\n\
             To: <sip:34020000002000000001@3402000000>\r\n\
             Call-ID: {call}\r\nCSeq: 2 MESSAGE\r\n\
             Content-Type: Application/MANSCDP+xml\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    fn drain(f: &mut StreamFramer) -> Vec<Result<String, &'static str>> {
        let mut out = Vec::new();
        loop {
            match f.next_message() {
                Ok(Some(m)) => out.push(Ok(m.call_id().unwrap_or_default().to_owned())),
                Ok(None) => return out,
                Err(e @ (StreamError::Fatal(_) | StreamError::Closed)) => {
                    out.push(Err(e.name()));
                    return out;
                }
                Err(e) => out.push(Err(e.name())),
            }
        }
    }

    #[test]
    fn messages_split_by_content_length_across_reads() {
        let mut wire = message("a", "<Notify/>");
        wire.extend_from_slice(b"\r\n\r\n"); // an RFC 5626 keep-alive between messages
        wire.extend(message("b", ""));
        wire.extend(message("c", "x\r\n\r\ny"));
        let mut f = StreamFramer::default();
        let mut got = Vec::new();
        for chunk in wire.chunks(7) {
            f.push(chunk).expect("within bounds");
            got.extend(drain(&mut f));
        }
        assert_eq!(got, vec![Ok("a".into()), Ok("b".into()), Ok("c".into())]);
        assert_eq!(f.finish(), Ok(()));
    }

    #[test]
    fn missing_or_bad_content_length_closes_the_stream() {
        let no_length = String::from_utf8(message("a", "")).expect("ascii").replace("Content-Length: 0\r\n", "");
        let mut f = StreamFramer::default();
        f.push(no_length.as_bytes()).expect("fits");
        assert_eq!(drain(&mut f), vec![Err("sip_missing_content_length")]);
        assert_eq!(f.push(b"more"), Err(StreamError::Closed));

        let bad =
            String::from_utf8(message("a", "")).expect("ascii").replace("Content-Length: 0", "Content-Length: 1x");
        let mut f = StreamFramer::default();
        f.push(bad.as_bytes()).expect("fits");
        assert_eq!(drain(&mut f), vec![Err("sip_bad_content_length")]);
    }

    #[test]
    fn a_broken_message_with_a_readable_length_is_skipped() {
        let broken = String::from_utf8(message("a", "abc")).expect("ascii").replace("Call-ID: a\r\n", "");
        let mut wire = broken.into_bytes();
        wire.extend(message("b", ""));
        let mut gbk_head = message("c", "");
        let at = gbk_head.windows(3).position(|w| w == b"tag").expect("there");
        gbk_head[at] = 0xB0; // a GBK byte in the From header
        wire.extend(gbk_head);
        wire.extend(message("d", ""));
        let mut f = StreamFramer::default();
        f.push(&wire).expect("fits");
        assert_eq!(
            drain(&mut f),
            vec![Err("sip_missing_header"), Ok("b".into()), Err("sip_head_not_utf8"), Ok("d".into())]
        );
    }

    #[test]
    fn oversized_heads_bodies_and_floods_are_refused() {
        let limits = Limits { max_head: 300, max_body: 16, max_headers: 16 };
        let mut f = StreamFramer::new(limits);
        f.push(&message("a", &"x".repeat(17))).expect("fits in the buffer");
        assert_eq!(drain(&mut f), vec![Err("sip_too_large")], "body over the limit");

        let mut f = StreamFramer::new(limits);
        f.push(&[b'A'; 301]).expect("fits in the buffer");
        assert_eq!(drain(&mut f), vec![Err("sip_too_large")], "no head end within the limit");

        let mut f = StreamFramer::new(limits);
        assert!(matches!(f.push(&[b'A'; 317]), Err(StreamError::Fatal(SipError::TooLarge { .. }))));
    }

    #[test]
    fn a_stream_ending_inside_a_message_is_truncated() {
        let wire = message("a", "abcdef");
        let mut f = StreamFramer::default();
        f.push(&wire[..wire.len() - 2]).expect("fits");
        assert_eq!(drain(&mut f), vec![]);
        assert_eq!(f.finish(), Err(StreamError::Fatal(SipError::TruncatedBody { declared: 6, actual: 4 })));
        let mut f = StreamFramer::default();
        f.push(&wire[..20]).expect("fits");
        assert_eq!(f.finish(), Err(StreamError::Fatal(SipError::TruncatedHead { have: 20 })));
    }
}
