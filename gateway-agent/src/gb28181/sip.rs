//! SIP messages (RFC 3261 §7, §18.3, §20) as GB/T 28181 devices send them: parse a message's head and body, check
//! it, and build requests and responses.
//!
//! Tolerated as real devices send them (accepted, noted as a [`Deviation`] and counted): compact header names
//! (`v: f: t: i: l: c: m:`, RFC 3261 §7.3.3), folded header lines (a line starting with space or tab continues the
//! previous one, §7.3.1), bare `LF` line ends, and over UDP a missing `Content-Length` (the body is the rest of the
//! datagram, §18.3) or bytes after the declared body (discarded, §18.3). Refused with a named [`SipError`]: a
//! head that is not UTF-8, a broken start line, a header line without a name, a `Content-Length` that is not
//! digits or disagrees with itself or says more than there is, a request without `Via`/`From`/`To`/`Call-ID`/
//! `CSeq` or whose `CSeq` method is not its own, and anything over the [`Limits`].

use std::fmt;

/// Size limits for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest head (start line and headers, up to the blank line), in bytes. Default 8 KiB.
    pub max_head: usize,
    /// Largest body, in bytes. Default 64 KiB (a catalog of a few hundred channels).
    pub max_body: usize,
    /// Most header lines. Default 64.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_head: 8 * 1024, max_body: 64 * 1024, max_headers: 64 }
    }
}

/// Which part of a message a size or truncation error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The start line and headers.
    Head,
    /// The body.
    Body,
    /// A whole UDP datagram.
    Datagram,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Head => "head",
            Self::Body => "body",
            Self::Datagram => "datagram",
        })
    }
}

/// Why bytes are not an acceptable SIP message. Each variant has a stable [`name`](Self::name) for counters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SipError {
    /// Over a [`Limits`] bound.
    #[error("SIP {part} of {size} bytes exceeds the limit of {max} / 消息过大")]
    TooLarge {
        /// Which part.
        part: Part,
        /// Its size (or the size seen so far).
        size: usize,
        /// The limit.
        max: usize,
    },
    /// No blank line ends the head.
    #[error("SIP head is not terminated by an empty line ({have} bytes) / 消息头不完整")]
    TruncatedHead {
        /// Bytes seen.
        have: usize,
    },
    /// The head holds bytes that are not UTF-8.
    #[error("SIP head is not UTF-8 at byte {offset} / 消息头编码错误")]
    HeadNotUtf8 {
        /// Offset of the first bad byte.
        offset: usize,
    },
    /// The first line is neither `METHOD uri SIP/2.0` nor `SIP/2.0 code reason`.
    #[error("bad SIP start line {line:?} / 起始行错误")]
    BadStartLine {
        /// The line, escaped and cut to 80 characters.
        line: String,
    },
    /// A header line has no `name:`, or a continuation line has nothing to continue.
    #[error("bad SIP header on line {line} / 头域错误")]
    BadHeader {
        /// 1-based line number in the head.
        line: usize,
    },
    /// More header lines than [`Limits::max_headers`].
    #[error("more than {max} SIP headers / 头域过多")]
    TooManyHeaders {
        /// The limit.
        max: usize,
    },
    /// A header a message must carry is missing.
    #[error("SIP {name} header missing / 缺少头域")]
    MissingHeader {
        /// Which.
        name: &'static str,
    },
    /// `Content-Length` missing where the message cannot be delimited without it (TCP).
    #[error("Content-Length missing on a stream transport / 缺少 Content-Length")]
    MissingContentLength,
    /// `Content-Length` is not a decimal number, or two of them disagree.
    #[error("bad Content-Length {value:?} / Content-Length 错误")]
    BadContentLength {
        /// What was there (escaped, cut).
        value: String,
    },
    /// The body is shorter than `Content-Length` says.
    #[error("Content-Length says {declared} bytes but the body has {actual} / 消息体不完整")]
    TruncatedBody {
        /// `Content-Length`.
        declared: usize,
        /// Bytes there.
        actual: usize,
    },
    /// `CSeq` is not `number METHOD`, or its method is not the request's.
    #[error("bad CSeq {value:?} / CSeq 错误")]
    BadCSeq {
        /// What was there (escaped, cut).
        value: String,
    },
}

impl SipError {
    /// A stable name for counters.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "sip_too_large",
            Self::TruncatedHead { .. } => "sip_truncated_head",
            Self::HeadNotUtf8 { .. } => "sip_head_not_utf8",
            Self::BadStartLine { .. } => "sip_bad_start_line",
            Self::BadHeader { .. } => "sip_bad_header",
            Self::TooManyHeaders { .. } => "sip_too_many_headers",
            Self::MissingHeader { .. } => "sip_missing_header",
            Self::MissingContentLength => "sip_missing_content_length",
            Self::BadContentLength { .. } => "sip_bad_content_length",
            Self::TruncatedBody { .. } => "sip_truncated_body",
            Self::BadCSeq { .. } => "sip_bad_cseq",
        }
    }
}

/// A tolerated departure from RFC 3261, noted on the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Deviation {
    /// A compact header name (`v`, `l`, …) was expanded.
    CompactHeader,
    /// A header value was folded over several lines.
    FoldedHeader,
    /// Lines ended in `LF` without `CR`.
    BareLf,
    /// UDP: no `Content-Length`; the body is the rest of the datagram.
    MissingContentLength,
    /// UDP: bytes after the declared body, discarded.
    TrailingBytes,
}

impl Deviation {
    /// A stable name for counters.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::CompactHeader => "sip_compact_header",
            Self::FoldedHeader => "sip_folded_header",
            Self::BareLf => "sip_bare_lf",
            Self::MissingContentLength => "sip_udp_without_content_length",
            Self::TrailingBytes => "sip_udp_trailing_bytes",
        }
    }
}

/// A SIP method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// `REGISTER`: 注册, 注销 (`Expires: 0`).
    Register,
    /// `MESSAGE` (RFC 3428): MANSCDP commands, notifications and answers.
    Message,
    /// `INVITE`.
    Invite,
    /// `ACK`.
    Ack,
    /// `BYE`.
    Bye,
    /// `CANCEL`.
    Cancel,
    /// `OPTIONS`.
    Options,
    /// `SUBSCRIBE`.
    Subscribe,
    /// `NOTIFY`.
    Notify,
    /// `INFO`.
    Info,
    /// Another token.
    Other(String),
}

impl Method {
    fn parse(token: &str) -> Self {
        match token {
            "REGISTER" => Self::Register,
            "MESSAGE" => Self::Message,
            "INVITE" => Self::Invite,
            "ACK" => Self::Ack,
            "BYE" => Self::Bye,
            "CANCEL" => Self::Cancel,
            "OPTIONS" => Self::Options,
            "SUBSCRIBE" => Self::Subscribe,
            "NOTIFY" => Self::Notify,
            "INFO" => Self::Info,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The token.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Register => "REGISTER",
            Self::Message => "MESSAGE",
            Self::Invite => "INVITE",
            Self::Ack => "ACK",
            Self::Bye => "BYE",
            Self::Cancel => "CANCEL",
            Self::Options => "OPTIONS",
            Self::Subscribe => "SUBSCRIBE",
            Self::Notify => "NOTIFY",
            Self::Info => "INFO",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `METHOD Request-URI SIP/2.0`.
    Request {
        /// The method.
        method: Method,
        /// The Request-URI as sent.
        uri: String,
    },
    /// `SIP/2.0 Status-Code Reason-Phrase`.
    Response {
        /// 100–699.
        status: u16,
        /// The reason phrase (may be empty).
        reason: String,
    },
}

/// Headers in order, names in their canonical long form (compact forms expanded), values unfolded and trimmed.
/// Lookups ignore case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// The first value of `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Appends a header (the name is canonicalised; CR and LF in the value become spaces so it stays one line).
    pub fn push(&mut self, name: &str, value: &str) {
        let value: String = value.chars().map(|c| if c == '\r' || c == '\n' { ' ' } else { c }).collect();
        self.0.push((canonical_name(name).0, value.trim().to_owned()));
    }

    /// Replaces every `name` header by one with `value`.
    pub fn set(&mut self, name: &str, value: &str) {
        self.remove(name);
        self.push(name, value);
    }

    /// Removes every `name` header.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// All headers in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of header lines.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One SIP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The first line.
    pub start: StartLine,
    /// The headers (`Content-Length` as received; [`encode`](Self::encode) writes the body's real length).
    pub headers: Headers,
    /// The body, as bytes (MANSCDP bodies are often GB2312).
    pub body: Vec<u8>,
    /// Tolerated departures, in the order met.
    pub deviations: Vec<Deviation>,
}

/// The result of reading a head: its message without body, where the body starts, and the declared length.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) message: Message,
    pub(crate) body_at: usize,
    pub(crate) content_length: Option<usize>,
}

impl Message {
    /// A request with no headers yet.
    #[must_use]
    pub fn request(method: Method, uri: &str) -> Self {
        Self {
            start: StartLine::Request { method, uri: uri.to_owned() },
            headers: Headers::default(),
            body: Vec::new(),
            deviations: Vec::new(),
        }
    }

    /// A response to `request` (RFC 3261 §8.2.6.2): its `Via`s, `From`, `To` (with `to_tag` added when it has no
    /// tag yet), `Call-ID` and `CSeq`.
    #[must_use]
    pub fn response_to(request: &Message, status: u16, reason: &str, to_tag: &str) -> Self {
        let mut headers = Headers::default();
        for via in request.headers.get_all("Via") {
            headers.push("Via", via);
        }
        for name in ["From", "To", "Call-ID", "CSeq"] {
            if let Some(v) = request.headers.get(name) {
                if name == "To" && param(v, "tag").is_none() && !to_tag.is_empty() {
                    headers.push(name, &format!("{v};tag={to_tag}"));
                } else {
                    headers.push(name, v);
                }
            }
        }
        Self {
            start: StartLine::Response { status, reason: reason.to_owned() },
            headers,
            body: Vec::new(),
            deviations: Vec::new(),
        }
    }

    /// Adds a header (builder style).
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push(name, value);
        self
    }

    /// Sets the body and its `Content-Type` (builder style).
    #[must_use]
    pub fn with_body(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.headers.set("Content-Type", content_type);
        self.body = body;
        self
    }

    /// The method of a request.
    #[must_use]
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The status of a response.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { status, .. } => Some(*status),
            StartLine::Request { .. } => None,
        }
    }

    /// `Call-ID`.
    #[must_use]
    pub fn call_id(&self) -> Option<&str> {
        self.headers.get("Call-ID")
    }

    /// `CSeq` as number and method.
    #[must_use]
    pub fn cseq(&self) -> Option<(u32, &str)> {
        parse_cseq(self.headers.get("CSeq")?)
    }

    /// The user part of the `From` URI: a GB/T 28181 device's id.
    #[must_use]
    pub fn from_user(&self) -> Option<&str> {
        uri_user(self.headers.get("From")?)
    }

    /// The registration lifetime asked for: the `Contact`'s `expires` parameter, else the `Expires` header
    /// (RFC 3261 §10.2.1.1). `None` when neither is a number.
    #[must_use]
    pub fn expires(&self) -> Option<u32> {
        let contact = self.headers.get("Contact").and_then(|c| param(c, "expires"));
        contact.or_else(|| self.headers.get("Expires")).and_then(|v| v.trim().parse().ok())
    }

    /// The head and body on the wire: CRLF line ends, full header names, `Content-Length` the body's length.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = String::new();
        match &self.start {
            StartLine::Request { method, uri } => out.push_str(&format!("{method} {uri} SIP/2.0\r\n")),
            StartLine::Response { status, reason } => out.push_str(&format!("SIP/2.0 {status} {reason}\r\n")),
        }
        for (name, value) in self.headers.iter().filter(|(n, _)| !n.eq_ignore_ascii_case("Content-Length")) {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// The checks every message must pass once whole (RFC 3261 §8.1.1, §8.2.2): `Via`, `From`, `To`, `Call-ID`,
    /// `CSeq` present; a request's `CSeq` names its own method.
    pub fn check(&self) -> Result<(), SipError> {
        for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
            if self.headers.get(name).is_none() {
                return Err(SipError::MissingHeader { name });
            }
        }
        let raw = self.headers.get("CSeq").unwrap_or_default();
        let bad = || SipError::BadCSeq { value: cut(raw) };
        let (_, method) = parse_cseq(raw).ok_or_else(bad)?;
        if let Some(own) = self.method()
            && own.as_str() != method
        {
            return Err(bad());
        }
        Ok(())
    }
}

/// Parses one UDP datagram (RFC 3261 §18.3). `Ok(None)` for a keep-alive of nothing but `CR`/`LF`.
pub fn parse_datagram(bytes: &[u8], limits: &Limits) -> Result<Option<Message>, SipError> {
    let max = limits.max_head + limits.max_body;
    if bytes.len() > max {
        return Err(SipError::TooLarge { part: Part::Datagram, size: bytes.len(), max });
    }
    let start = bytes.iter().position(|b| !matches!(b, b'\r' | b'\n')).unwrap_or(bytes.len());
    if start == bytes.len() {
        return Ok(None);
    }
    let bytes = &bytes[start..];
    let Some(head) = parse_head(bytes, limits)? else {
        return Err(SipError::TruncatedHead { have: bytes.len() });
    };
    let Head { mut message, body_at, content_length } = head;
    let rest = &bytes[body_at..];
    let body = match content_length {
        None => {
            message.deviations.push(Deviation::MissingContentLength);
            rest
        }
        Some(declared) if declared > rest.len() => {
            return Err(SipError::TruncatedBody { declared, actual: rest.len() });
        }
        Some(declared) => {
            if declared < rest.len() {
                message.deviations.push(Deviation::TrailingBytes);
            }
            &rest[..declared]
        }
    };
    if body.len() > limits.max_body {
        return Err(SipError::TooLarge { part: Part::Body, size: body.len(), max: limits.max_body });
    }
    message.body = body.to_vec();
    message.check()?;
    Ok(Some(message))
}

/// Where the head of `bytes` ends: (index of the first body byte, whether lines end in bare LF). `None` when no
/// blank line is there yet.
pub(crate) fn head_end(bytes: &[u8]) -> Option<(usize, bool)> {
    let crlf = bytes.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i + 4, false));
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|i| (i + 2, true));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// Parses the head at the front of `bytes` (which starts at the start line). `Ok(None)` when the head is not
/// complete yet and still within [`Limits::max_head`].
pub(crate) fn parse_head(bytes: &[u8], limits: &Limits) -> Result<Option<Head>, SipError> {
    let Some((body_at, bare_lf)) = head_end(bytes) else {
        if bytes.len() > limits.max_head {
            return Err(SipError::TooLarge { part: Part::Head, size: bytes.len(), max: limits.max_head });
        }
        return Ok(None);
    };
    if body_at > limits.max_head {
        return Err(SipError::TooLarge { part: Part::Head, size: body_at, max: limits.max_head });
    }
    let text = std::str::from_utf8(&bytes[..body_at]).map_err(|e| SipError::HeadNotUtf8 { offset: e.valid_up_to() })?;
    let mut deviations = Vec::new();
    if bare_lf {
        deviations.push(Deviation::BareLf);
    }
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start = parse_start_line(lines.next().unwrap_or_default())?;
    let mut headers: Vec<(String, String)> = Vec::new();
    for (i, line) in lines.enumerate() {
        if line.is_empty() {
            continue; // the blank line(s) ending the head
        }
        let line_no = i + 2;
        if line.starts_with([' ', '\t']) {
            let Some((_, value)) = headers.last_mut() else {
                return Err(SipError::BadHeader { line: line_no });
            };
            // A blank continuation adds nothing (not even the joining space, which encoding would trim away).
            let more = line.trim();
            if !more.is_empty() {
                if !value.is_empty() {
                    value.push(' ');
                }
                value.push_str(more);
            }
            if !deviations.contains(&Deviation::FoldedHeader) {
                deviations.push(Deviation::FoldedHeader);
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(SipError::BadHeader { line: line_no });
        };
        let name = name.trim_end();
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(SipError::BadHeader { line: line_no });
        }
        if headers.len() == limits.max_headers {
            return Err(SipError::TooManyHeaders { max: limits.max_headers });
        }
        let (name, compact) = canonical_name(name);
        if compact && !deviations.contains(&Deviation::CompactHeader) {
            deviations.push(Deviation::CompactHeader);
        }
        headers.push((name, value.trim().to_owned()));
    }
    let headers = Headers(headers);
    let content_length = content_length(&headers)?;
    if let Some(n) = content_length
        && n > limits.max_body
    {
        return Err(SipError::TooLarge { part: Part::Body, size: n, max: limits.max_body });
    }
    Ok(Some(Head { message: Message { start, headers, body: Vec::new(), deviations }, body_at, content_length }))
}

/// `Content-Length`: `None` when absent, an error when not digits or when two disagree.
fn content_length(headers: &Headers) -> Result<Option<usize>, SipError> {
    let mut found: Option<usize> = None;
    for raw in headers.get_all("Content-Length") {
        let value = raw.trim();
        let bad = || SipError::BadContentLength { value: cut(raw) };
        if value.is_empty() || value.len() > 9 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: usize = value.parse().map_err(|_| bad())?;
        if found.is_some_and(|f| f != n) {
            return Err(bad());
        }
        found = Some(n);
    }
    Ok(found)
}

fn parse_start_line(line: &str) -> Result<StartLine, SipError> {
    let bad = || SipError::BadStartLine { line: cut(line) };
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let status: u16 = code.parse().map_err(|_| bad())?;
        if !(100..=699).contains(&status) {
            return Err(bad());
        }
        return Ok(StartLine::Response { status, reason: reason.trim().to_owned() });
    }
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if method.is_empty() || !method.bytes().all(is_token_byte) || version != "SIP/2.0" {
        return Err(bad());
    }
    if uri.is_empty() || !uri.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(StartLine::Request { method: Method::parse(method), uri: uri.to_owned() })
}

/// RFC 3261 §25.1 `token` characters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// The canonical form of a header name and whether it was a compact form (RFC 3261 §7.3.3, §20).
fn canonical_name(name: &str) -> (String, bool) {
    const COMPACT: [(&str, &str); 10] = [
        ("i", "Call-ID"),
        ("m", "Contact"),
        ("e", "Content-Encoding"),
        ("l", "Content-Length"),
        ("c", "Content-Type"),
        ("f", "From"),
        ("s", "Subject"),
        ("k", "Supported"),
        ("t", "To"),
        ("v", "Via"),
    ];
    const LONG: [&str; 22] = [
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "Content-Length",
        "Content-Type",
        "Content-Encoding",
        "Max-Forwards",
        "Expires",
        "Authorization",
        "WWW-Authenticate",
        "User-Agent",
        "Server",
        "Date",
        "Allow",
        "Route",
        "Record-Route",
        "Subject",
        "Supported",
        "X-GB-Ver",
    ];
    if let Some((_, long)) = COMPACT.iter().find(|(c, _)| c.eq_ignore_ascii_case(name)) {
        return ((*long).to_owned(), true);
    }
    let name = LONG.iter().find(|l| l.eq_ignore_ascii_case(name)).map_or(name, |l| l);
    (name.to_owned(), false)
}

fn parse_cseq(raw: &str) -> Option<(u32, &str)> {
    let mut parts = raw.split_ascii_whitespace();
    let (Some(n), Some(method), None) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    if !n.bytes().all(|b| b.is_ascii_digit()) || !method.bytes().all(is_token_byte) {
        return None;
    }
    Some((n.parse().ok()?, method))
}

/// The user part of the first SIP URI in a header value (`"x" <sip:34020000001320000001@3402000000>;tag=1` →
/// `34020000001320000001`).
#[must_use]
pub fn uri_user(value: &str) -> Option<&str> {
    let at = value.find("sip:").map(|i| i + 4).or_else(|| value.find("sips:").map(|i| i + 5))?;
    let rest = &value[at..];
    let end = rest.find(['@', '>', ';', ' ', ':'])?;
    rest[end..].starts_with('@').then(|| &rest[..end]).filter(|u| !u.is_empty())
}

/// The value of parameter `name` (`;name=value`) after the URI in a header value (outside `<…>`).
#[must_use]
pub fn param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    let after_uri = value.rfind('>').map_or(value, |i| &value[i + 1..]);
    after_uri.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Escaped and cut to 80 characters, for error messages.
fn cut(s: &str) -> String {
    let escaped: String = s.escape_debug().collect();
    escaped.chars().take(80).collect()
}

#[cfg(test)]
#[path = "sip_tests.rs"]
mod tests;
