//! Digest authentication (RFC 2617 §3, RFC 3261 §22.4) as GB/T 28181 uses it for `REGISTER` (2016 §9.1.2.1,
//! 基于数字摘要的挑战应答式安全技术): the platform answers an unauthenticated `REGISTER` with `401` and a
//! `WWW-Authenticate: Digest realm=…, nonce=…, algorithm=MD5` challenge; the device repeats it with an
//! `Authorization` header whose `response` is MD5 over its password.
//!
//! * `HA1 = MD5(username:realm:password)`, `HA2 = MD5(method:uri)`;
//! * without `qop` (RFC 2069 form, what many cameras send): `response = MD5(HA1:nonce:HA2)`;
//! * with `qop=auth`: `response = MD5(HA1:nonce:nc:cnonce:qop:HA2)`.
//!
//! The nonce is made by the caller (no randomness or clock in here). `auth-int`, other algorithms and an
//! unknown nonce are refused; the `uri` is used as sent (devices write the platform's domain or id there, not
//! always the Request-URI).

use std::fmt;

use md5::{Digest, Md5};

/// A device's password from the agent's configuration. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    #[must_use]
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A challenge the platform issues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// 域: the platform's SIP domain (the first 10 digits of its id by default).
    pub realm: String,
    /// The nonce, made by the caller from fresh randomness.
    pub nonce: String,
    /// Whether `qop="auth"` is offered.
    pub qop: bool,
}

impl Challenge {
    /// The `WWW-Authenticate` header value.
    #[must_use]
    pub fn header(&self) -> String {
        let qop = if self.qop { ", qop=\"auth\"" } else { "" };
        format!("Digest realm=\"{}\", nonce=\"{}\", algorithm=MD5{qop}", self.realm, self.nonce)
    }
}

/// Why an `Authorization` header is refused. Each variant has a stable [`name`](Self::name) for counters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not `Digest k=v, …`.
    #[error("Authorization is not a Digest credential / 认证头格式错误")]
    Malformed,
    /// A parameter the digest needs is missing.
    #[error("Authorization lacks {0} / 认证头缺少参数")]
    MissingParam(&'static str),
    /// Another realm than the platform's.
    #[error("Authorization realm is not the platform's / 认证域错误")]
    WrongRealm,
    /// Not the nonce issued to this device (stale, replayed or invented).
    #[error("Authorization nonce was not issued to this device / nonce 无效")]
    UnknownNonce,
    /// An algorithm other than MD5.
    #[error("digest algorithm {0:?} is not supported (MD5 only) / 不支持的摘要算法")]
    UnsupportedAlgorithm(String),
    /// A `qop` other than `auth`.
    #[error("digest qop {0:?} is not supported (auth only) / 不支持的 qop")]
    UnsupportedQop(String),
    /// The response does not match the configured password.
    #[error("digest response does not match: wrong password / 密码错误")]
    WrongPassword,
}

impl AuthError {
    /// A stable name for counters.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Malformed => "auth_malformed",
            Self::MissingParam(_) => "auth_missing_param",
            Self::WrongRealm => "auth_wrong_realm",
            Self::UnknownNonce => "auth_unknown_nonce",
            Self::UnsupportedAlgorithm(_) => "auth_unsupported_algorithm",
            Self::UnsupportedQop(_) => "auth_unsupported_qop",
            Self::WrongPassword => "auth_wrong_password",
        }
    }
}

/// The parameters of a `Digest` `Authorization` header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// `username` (a GB/T 28181 device sends its id).
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `uri`.
    pub uri: String,
    /// `response`: 32 hex digits.
    pub response: String,
    /// `algorithm`, when sent.
    pub algorithm: Option<String>,
    /// `qop`, when sent.
    pub qop: Option<String>,
    /// `nc`, with `qop`.
    pub nc: Option<String>,
    /// `cnonce`, with `qop`.
    pub cnonce: Option<String>,
}

impl Credentials {
    /// Parses `Digest username="…", realm="…", …` (names case-insensitive, values quoted or tokens).
    pub fn parse(header: &str) -> Result<Self, AuthError> {
        let header = header.trim();
        let (scheme, rest) = header.split_once([' ', '\t']).ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::Malformed);
        }
        let mut c = Credentials::default();
        let mut seen = [false; 5];
        for (name, value) in params(rest)? {
            let required = match name.to_ascii_lowercase().as_str() {
                "username" => Some((0, &mut c.username)),
                "realm" => Some((1, &mut c.realm)),
                "nonce" => Some((2, &mut c.nonce)),
                "uri" => Some((3, &mut c.uri)),
                "response" => Some((4, &mut c.response)),
                _ => None,
            };
            if let Some((i, field)) = required {
                seen[i] = true;
                *field = value;
                continue;
            }
            let optional = match name.to_ascii_lowercase().as_str() {
                "algorithm" => &mut c.algorithm,
                "qop" => &mut c.qop,
                "nc" => &mut c.nc,
                "cnonce" => &mut c.cnonce,
                _ => continue,
            };
            *optional = Some(value);
        }
        for (i, name) in ["username", "realm", "nonce", "uri", "response"].into_iter().enumerate() {
            if !seen[i] {
                return Err(AuthError::MissingParam(name));
            }
        }
        Ok(c)
    }

    /// Checks the credentials against the challenge issued to this device and its password.
    pub fn verify(&self, method: &str, challenge: &Challenge, password: &Password) -> Result<(), AuthError> {
        if self.realm != challenge.realm {
            return Err(AuthError::WrongRealm);
        }
        if self.nonce != challenge.nonce {
            return Err(AuthError::UnknownNonce);
        }
        if let Some(a) = &self.algorithm
            && !a.eq_ignore_ascii_case("MD5")
        {
            return Err(AuthError::UnsupportedAlgorithm(cut(a)));
        }
        let expected = match self.qop.as_deref() {
            None => response(&self.username, &self.realm, password, method, &self.uri, &self.nonce, None),
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let nc = self.nc.as_deref().ok_or(AuthError::MissingParam("nc"))?;
                let cnonce = self.cnonce.as_deref().ok_or(AuthError::MissingParam("cnonce"))?;
                response(&self.username, &self.realm, password, method, &self.uri, &self.nonce, Some((nc, cnonce)))
            }
            Some(q) => return Err(AuthError::UnsupportedQop(cut(q))),
        };
        if constant_time_eq(expected.as_bytes(), self.response.to_ascii_lowercase().as_bytes()) {
            Ok(())
        } else {
            Err(AuthError::WrongPassword)
        }
    }

    /// The `Authorization` header value (a device's side, for the simulator and tests).
    #[must_use]
    pub fn header(&self) -> String {
        let mut s = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{}\", algorithm=MD5",
            self.username, self.realm, self.nonce, self.uri, self.response
        );
        if let (Some(qop), Some(nc), Some(cnonce)) = (&self.qop, &self.nc, &self.cnonce) {
            s.push_str(&format!(", qop={qop}, nc={nc}, cnonce=\"{cnonce}\""));
        }
        s
    }

    /// A device's answer to `challenge` (with `qop=auth`, `nc=00000001` and `cnonce` when the challenge offers it).
    #[must_use]
    pub fn answer(challenge: &Challenge, username: &str, password: &Password, method: &str, uri: &str) -> Self {
        let cnonce = "0a4f113b";
        let qop = challenge.qop.then_some(("00000001", cnonce));
        Self {
            username: username.to_owned(),
            realm: challenge.realm.clone(),
            nonce: challenge.nonce.clone(),
            uri: uri.to_owned(),
            response: response(username, &challenge.realm, password, method, uri, &challenge.nonce, qop),
            algorithm: Some("MD5".to_owned()),
            qop: challenge.qop.then(|| "auth".to_owned()),
            nc: qop.map(|(nc, _)| nc.to_owned()),
            cnonce: qop.map(|(_, c)| c.to_owned()),
        }
    }
}

/// The digest `response`, lowercase hex.
fn response(
    username: &str,
    realm: &str,
    password: &Password,
    method: &str,
    uri: &str,
    nonce: &str,
    qop: Option<(&str, &str)>,
) -> String {
    let ha1 = md5_hex(format!("{username}:{realm}:{}", password.0).as_bytes());
    let ha2 = md5_hex(format!("{method}:{uri}").as_bytes());
    match qop {
        None => md5_hex(format!("{ha1}:{nonce}:{ha2}").as_bytes()),
        Some((nc, cnonce)) => md5_hex(format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}").as_bytes()),
    }
}

fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `name=value` pairs separated by commas; values are tokens or quoted strings (with `\` escapes).
fn params(s: &str) -> Result<Vec<(String, String)>, AuthError> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            name.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') || name.is_empty() {
            return Err(AuthError::Malformed);
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(AuthError::Malformed),
                    Some('"') => break,
                    Some('\\') => value.push(chars.next().ok_or(AuthError::Malformed)?),
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((name, value));
    }
}

fn cut(s: &str) -> String {
    s.escape_debug().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(qop: bool) -> Challenge {
        Challenge { realm: "3402000000".into(), nonce: "9bd055".into(), qop }
    }

    /// RFC 2617 §3.5's example (qop=auth), checked against the published response.
    #[test]
    fn rfc_2617_example_response() {
        let c = Credentials::parse(
            "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
             uri=\"/dir/index.html\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", \
             response=\"6629fae49393a05397450978507c4ef1\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .expect("parses");
        let ch = Challenge {
            realm: "testrealm@host.com".into(),
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093".into(),
            qop: true,
        };
        assert_eq!(c.verify("GET", &ch, &Password::new("Circle Of Life")), Ok(()));
        assert_eq!(c.verify("GET", &ch, &Password::new("circle of life")), Err(AuthError::WrongPassword));
    }

    #[test]
    fn device_answers_verify_with_and_without_qop() {
        for qop in [false, true] {
            let ch = challenge(qop);
            let pw = Password::new("12345678");
            let c = Credentials::answer(
                &ch,
                "34020000001320000001",
                &pw,
                "REGISTER",
                "sip:34020000002000000001@3402000000",
            );
            let parsed = Credentials::parse(&c.header()).expect("own header parses");
            assert_eq!(parsed, c);
            assert_eq!(parsed.verify("REGISTER", &ch, &pw), Ok(()));
            let wrong = parsed.verify("REGISTER", &ch, &Password::new("123456789"));
            assert_eq!(wrong.expect_err("wrong password").name(), "auth_wrong_password");
        }
    }

    #[test]
    fn replayed_nonce_other_realm_and_algorithms_are_refused() {
        let pw = Password::new("12345678");
        let old = Credentials::answer(&challenge(false), "34020000001320000001", &pw, "REGISTER", "sip:x");
        let fresh = Challenge { nonce: "new".into(), ..challenge(false) };
        assert_eq!(old.verify("REGISTER", &fresh, &pw), Err(AuthError::UnknownNonce));
        let other = Challenge { realm: "4401000000".into(), ..challenge(false) };
        assert_eq!(old.verify("REGISTER", &other, &pw), Err(AuthError::WrongRealm));
        let sha = Credentials { algorithm: Some("SHA-256".into()), ..old.clone() };
        assert_eq!(
            sha.verify("REGISTER", &challenge(false), &pw).expect_err("sha").name(),
            "auth_unsupported_algorithm"
        );
        let int = Credentials { qop: Some("auth-int".into()), ..old };
        assert_eq!(int.verify("REGISTER", &challenge(false), &pw).expect_err("int").name(), "auth_unsupported_qop");
    }

    #[test]
    fn malformed_headers_are_named() {
        assert_eq!(Credentials::parse("Basic YWxhZGRpbjpvcGVuc2VzYW1l"), Err(AuthError::Malformed));
        assert_eq!(Credentials::parse("Digest username=\"a"), Err(AuthError::Malformed));
        assert_eq!(
            Credentials::parse("Digest username=\"a\", realm=\"b\", nonce=\"c\", uri=\"d\""),
            Err(AuthError::MissingParam("response"))
        );
        // Quoted commas and escapes, unquoted values, odd spacing, case of names.
        let c = Credentials::parse(
            "digest USERNAME = \"a,\\\"b\" ,realm=r,nonce=n,uri=\"sip:x\",response=ABCDEF,algorithm=md5",
        )
        .expect("parses");
        assert_eq!((c.username.as_str(), c.realm.as_str(), c.response.as_str()), ("a,\"b", "r", "ABCDEF"));
    }

    #[test]
    fn password_is_never_printed() {
        let pw = Password::new("s3cret-pw");
        assert!(!format!("{pw:?}").contains("s3cret"));
        let ch = challenge(true);
        assert!(!ch.header().contains("s3cret"));
        assert_eq!(ch.header(), "Digest realm=\"3402000000\", nonce=\"9bd055\", algorithm=MD5, qop=\"auth\"");
    }
}
