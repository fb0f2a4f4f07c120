//! RFC 3161 trusted time (可信时间戳) for checkpoints: the request a log sends a time-stamping authority (TSA) and
//! the offline verification of the token it answers (docs/FORMAT.md §10).
//!
//! The message imprint is the SHA-256 of the checkpoint note's signed text (§6: from the first byte through the
//! text's final newline), so a token binds the tree size and root, not the signature lines, and a cosigned copy of
//! the same checkpoint carries the same tokens. Verification needs nothing but the token, the checkpoint and the
//! TSA's root certificate (PEM): the CMS SignedData signature (RFC 5652 §5.4, with signed attributes), the
//! content-type and message-digest attributes, the TSA certificate's extendedKeyUsage (only `timeStamping`,
//! critical, RFC 3161 §2.3), the chain from it through the token's certificates to the root, each certificate
//! valid at the token's `genTime` (never the verifier's clock), the imprint and, when the caller kept it, the nonce.
//! Supported signatures: RSA PKCS #1 v1.5 and ECDSA P-256, with SHA-256, SHA-384 or SHA-512 digests. SM2 TSAs are
//! not supported yet (issue 18, Deliver 1).

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{Any, GeneralizedTime, Int, ObjectIdentifier, OctetString, SetOfVec, Uint};
use der::{Decode, Encode, Sequence, Tagged};
use sha2::{Digest, Sha256, Sha384, Sha512};
pub use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage};
use x509_cert::spki::{self, AlgorithmIdentifierOwned};

use crate::note;

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");

/// Longest certificate path accepted from the TSA certificate to the root (a loop guard, not a policy).
const MAX_CHAIN: usize = 8;

/// Why a timestamp request could not be built, a response carries no token, or a token does not verify. Each
/// variant is one named check ([`TimestampError::check`]), so a report says which part of the token failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// The bytes are not the DER structure the check expected (response, token, TSTInfo, certificate, PEM).
    #[error("{what} is malformed: {detail}")]
    Malformed {
        /// Which structure.
        what: &'static str,
        /// The decoder's complaint.
        detail: String,
    },
    /// The TSA refused the request (PKIStatus other than granted / grantedWithMods).
    #[error("the TSA refused the request: status {status}{text}")]
    Refused {
        /// RFC 3161 PKIStatus.
        status: u8,
        /// The TSA's status text, if any, prefixed with ": ".
        text: String,
    },
    /// The token is not CMS SignedData over a TSTInfo, or does not have exactly one signer with signed attributes.
    #[error("the token is not an RFC 3161 token: {0}")]
    Structure(String),
    /// An algorithm this verifier does not implement (named by OID).
    #[error("unsupported {what} algorithm {oid}")]
    Unsupported {
        /// Digest, signature or public key.
        what: &'static str,
        /// The OID.
        oid: String,
    },
    /// The signed attributes do not name the TSTInfo content type or its digest: the TSTInfo was altered.
    #[error("signed attributes do not match the TSTInfo: {0}")]
    SignedAttributes(String),
    /// The CMS signature by the TSA certificate does not verify.
    #[error("the TSA's signature does not verify: {0}")]
    Signature(String),
    /// The signing certificate is not a time-stamping certificate (RFC 3161 §2.3).
    #[error("the TSA certificate is not for time stamping: {0}")]
    KeyUsage(String),
    /// The TSA certificate does not chain to the configured root, or a certificate was not valid at `genTime`.
    #[error("the TSA certificate does not chain to the trusted root: {0}")]
    Chain(String),
    /// The token's message imprint is not the SHA-256 of this checkpoint's text.
    #[error("the token's message imprint is not this checkpoint's: {0}")]
    MessageImprint(String),
    /// The token's nonce is not the one the request sent.
    #[error("the token's nonce is not the request's: {0}")]
    Nonce(String),
}

impl TimestampError {
    /// The name of the check that failed, as reports print it.
    pub fn check(&self) -> &'static str {
        match self {
            TimestampError::Malformed { .. } | TimestampError::Structure(_) | TimestampError::Unsupported { .. } => {
                "token_format"
            }
            TimestampError::Refused { .. } => "tsa_status",
            TimestampError::SignedAttributes(_) => "signed_attributes",
            TimestampError::Signature(_) => "token_signature",
            TimestampError::KeyUsage(_) => "tsa_key_usage",
            TimestampError::Chain(_) => "tsa_chain",
            TimestampError::MessageImprint(_) => "message_imprint",
            TimestampError::Nonce(_) => "nonce",
        }
    }
}

fn malformed(what: &'static str) -> impl Fn(der::Error) -> TimestampError {
    move |e| TimestampError::Malformed { what, detail: e.to_string() }
}

/// `MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, hashedMessage OCTET STRING }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

/// `TimeStampReq` (RFC 3161 §2.4.1); no policy, no extensions.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TimeStampReq {
    version: u8,
    message_imprint: MessageImprint,
    nonce: Option<Uint>,
    cert_req: bool,
}

/// `PKIStatusInfo`; the failure bits are not read (the status text says more).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct PkiStatusInfo {
    status: u8,
    status_string: Option<Vec<String>>,
    fail_info: Option<der::asn1::BitString>,
}

/// `TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken ContentInfo OPTIONAL }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TimeStampResp {
    status: PkiStatusInfo,
    time_stamp_token: Option<Any>,
}

/// `Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER OPTIONAL, micros [1] INTEGER OPTIONAL }`.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct Accuracy {
    seconds: Option<u64>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    millis: Option<u16>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    micros: Option<u16>,
}

/// `TSTInfo` (RFC 3161 §2.4.2). `genTime` is read as raw bytes because TSAs may add fractional seconds, which
/// DER `GeneralizedTime` decoders refuse.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TstInfo {
    version: u8,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: Int,
    gen_time: Any,
    accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    ordering: bool,
    nonce: Option<Uint>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<Any>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    extensions: Option<x509_cert::ext::Extensions>,
}

/// The SHA-256 message imprint of a checkpoint: the digest of its signed note text (§6), whatever signature lines
/// (log, witnesses) follow it. A bare checkpoint text (ending in a newline, no signatures) is accepted too.
pub fn checkpoint_imprint(checkpoint: &str) -> Result<[u8; 32], TimestampError> {
    let text = if checkpoint.contains("\n\n") {
        note::split(checkpoint)
            .map_err(|e| TimestampError::Malformed { what: "checkpoint note", detail: e.to_string() })?
            .0
    } else {
        checkpoint
    };
    Ok(Sha256::digest(text.as_bytes()).into())
}

/// The DER `TimeStampReq` for a checkpoint (sent as `application/timestamp-query`): SHA-256 imprint of its text,
/// the caller's `nonce` (keep it to check the answer) and `certReq` true, so the token carries the TSA certificate
/// an offline verifier needs.
pub fn request_for_checkpoint(checkpoint: &str, nonce: u64) -> Result<Vec<u8>, TimestampError> {
    let imprint = checkpoint_imprint(checkpoint)?;
    let req = TimeStampReq {
        version: 1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifierOwned { oid: ID_SHA256, parameters: None },
            hashed_message: OctetString::new(imprint.to_vec()).map_err(malformed("message imprint"))?,
        },
        nonce: Some(Uint::new(&nonce.to_be_bytes()).map_err(malformed("nonce"))?),
        cert_req: true,
    };
    req.to_der().map_err(malformed("TimeStampReq"))
}

/// The token (DER `ContentInfo`) of a DER `TimeStampResp`, if the TSA granted the request. Nothing is verified:
/// pass the token to [`verify_token`].
pub fn token_from_response(response: &[u8]) -> Result<Vec<u8>, TimestampError> {
    let resp = TimeStampResp::from_der(response).map_err(malformed("TimeStampResp"))?;
    if resp.status.status > 1 {
        let text = resp
            .status
            .status_string
            .map(|s| format!(": {}", s.iter().map(String::as_str).collect::<Vec<_>>().join("; ")))
            .unwrap_or_default();
        return Err(TimestampError::Refused { status: resp.status.status, text });
    }
    let token =
        resp.time_stamp_token.ok_or_else(|| TimestampError::Structure("a granted response without a token".into()))?;
    token.to_der().map_err(malformed("token"))
}

/// Reads the trusted root certificates of a PEM file (one or more `CERTIFICATE` blocks).
pub fn roots_from_pem(pem: &[u8]) -> Result<Vec<Certificate>, TimestampError> {
    let roots = Certificate::load_pem_chain(pem).map_err(malformed("root certificate PEM"))?;
    if roots.is_empty() {
        return Err(TimestampError::Malformed { what: "root certificate PEM", detail: "no certificate".into() });
    }
    Ok(roots)
}

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTimestamp {
    /// The TSA's time, as written in the token (`YYYYMMDDhhmmss[.f]Z`).
    pub gen_time: String,
    /// The same instant in POSIX seconds (fractions dropped).
    pub unix_seconds: i64,
    /// The TSA certificate's subject (RFC 4514 form).
    pub tsa: String,
    /// The token's serial number, lowercase hex.
    pub serial: String,
    /// The TSA policy OID.
    pub policy: String,
}

/// Verifies an RFC 3161 token (DER `ContentInfo`) for `checkpoint` offline against the trusted `roots`; with
/// `nonce`, the token must carry that nonce. See the module documentation for the checks, in order.
pub fn verify_token(
    token: &[u8],
    checkpoint: &str,
    nonce: Option<u64>,
    roots: &[Certificate],
) -> Result<VerifiedTimestamp, TimestampError> {
    verify(token, checkpoint, nonce, Some(roots))
}

/// [`verify_token`] without a trusted root: every check but the chain (the signature is by the certificate the
/// token carries, which says nothing about who holds it). For reports of a verifier not given a TSA root.
pub fn verify_token_unanchored(token: &[u8], checkpoint: &str) -> Result<VerifiedTimestamp, TimestampError> {
    verify(token, checkpoint, None, None)
}

fn verify(
    token: &[u8],
    checkpoint: &str,
    nonce: Option<u64>,
    roots: Option<&[Certificate]>,
) -> Result<VerifiedTimestamp, TimestampError> {
    let info = ContentInfo::from_der(token).map_err(malformed("token ContentInfo"))?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(TimestampError::Structure(format!("content type {} is not signedData", info.content_type)));
    }
    // Re-encoding must give the same bytes: a BER or otherwise altered encoding of unsigned parts is refused, so
    // changing any byte of a token fails some check.
    if info.to_der().map_err(malformed("token ContentInfo"))? != token {
        return Err(TimestampError::Malformed { what: "token", detail: "not in DER".into() });
    }
    let sd: SignedData = info.content.decode_as().map_err(malformed("token SignedData"))?;
    if sd.version != cms::content_info::CmsVersion::V3 || sd.crls.is_some() {
        return Err(TimestampError::Structure("SignedData is not version 3 without CRLs (RFC 5652 §5.1)".into()));
    }
    if sd.encap_content_info.econtent_type != ID_CT_TST_INFO {
        return Err(TimestampError::Structure(format!(
            "encapsulated content type {} is not id-ct-TSTInfo",
            sd.encap_content_info.econtent_type
        )));
    }
    let econtent =
        sd.encap_content_info.econtent.as_ref().ok_or_else(|| TimestampError::Structure("no TSTInfo".into()))?;
    let tst_der = econtent.decode_as::<OctetString>().map_err(malformed("TSTInfo octet string"))?.into_bytes();
    let tst = TstInfo::from_der(&tst_der).map_err(malformed("TSTInfo"))?;
    let [signer] = sd.signer_infos.0.as_slice() else {
        return Err(TimestampError::Structure(format!(
            "{} signer infos; a token has exactly one",
            sd.signer_infos.0.len()
        )));
    };
    if !sd.digest_algorithms.iter().any(|a| a == &signer.digest_alg) {
        return Err(TimestampError::Structure("digestAlgorithms does not list the signer's digest".into()));
    }
    let sid_version = match signer.sid {
        SignerIdentifier::IssuerAndSerialNumber(_) => cms::content_info::CmsVersion::V1,
        SignerIdentifier::SubjectKeyIdentifier(_) => cms::content_info::CmsVersion::V3,
    };
    if signer.version != sid_version {
        return Err(TimestampError::Structure("SignerInfo version does not match its signer identifier".into()));
    }
    if !plain(&signer.digest_alg) || !plain(&signer.signature_algorithm) {
        return Err(TimestampError::Structure("algorithm parameters other than absent or NULL".into()));
    }
    if signer.unsigned_attrs.is_some() {
        return Err(TimestampError::Structure("unsigned attributes (nothing unverified may ride along)".into()));
    }
    let certs: Vec<&Certificate> = sd
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            cms::cert::CertificateChoices::Certificate(c) => Some(c),
            _ => None,
        })
        .collect();

    check_signed_attributes(signer, &tst_der)?;
    let tsa_cert = find_signer_cert(&signer.sid, &certs)?;
    let signed_attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or_else(|| TimestampError::Structure("no signed attributes".into()))?
        .to_der()
        .map_err(malformed("signed attributes"))?;
    verify_signature(
        tsa_cert.tbs_certificate().subject_public_key_info(),
        &signer.signature_algorithm.oid,
        Some(&signer.digest_alg.oid),
        &signed_attrs,
        signer.signature.as_bytes(),
    )?;
    check_time_stamping_eku(tsa_cert)?;
    let (gen_time, unix_seconds) = parse_gen_time(&tst.gen_time)?;
    if let Some(roots) = roots {
        check_anchored(tsa_cert, &certs, roots, unix_seconds)?;
    } else if !valid_at(tsa_cert, unix_seconds) {
        return Err(TimestampError::Chain("the TSA certificate was not valid at the token's time".into()));
    }

    if tst.message_imprint.hash_algorithm.oid != ID_SHA256 {
        return Err(TimestampError::MessageImprint(format!(
            "hash algorithm {} is not SHA-256",
            tst.message_imprint.hash_algorithm.oid
        )));
    }
    let expected = checkpoint_imprint(checkpoint)?;
    if tst.message_imprint.hashed_message.as_bytes() != expected.as_slice() {
        return Err(TimestampError::MessageImprint(format!(
            "token imprints {}, the checkpoint text hashes to {}",
            hex::encode(tst.message_imprint.hashed_message.as_bytes()),
            hex::encode(expected)
        )));
    }
    if let Some(n) = nonce {
        let want = n.to_be_bytes();
        let want = strip_zeros(&want);
        match &tst.nonce {
            Some(got) if strip_zeros(got.as_bytes()) == want => {}
            Some(got) => {
                return Err(TimestampError::Nonce(format!(
                    "token nonce {} is not {}",
                    hex::encode(got.as_bytes()),
                    hex::encode(want)
                )));
            }
            None => return Err(TimestampError::Nonce("the token has no nonce".into())),
        }
    }
    Ok(VerifiedTimestamp {
        gen_time,
        unix_seconds,
        tsa: tsa_cert.tbs_certificate().subject().to_string(),
        serial: hex::encode(tst.serial_number.as_bytes()),
        policy: tst.policy.to_string(),
    })
}

/// RSA and SHA-2 algorithm identifiers take absent or NULL parameters; anything else would be unverified bytes.
fn plain(alg: &AlgorithmIdentifierOwned) -> bool {
    alg.parameters.as_ref().is_none_or(|p| p.tag() == der::Tag::Null && p.value().is_empty())
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

/// RFC 5652 §5.3: signed attributes must name the content type and carry the digest of the content.
fn check_signed_attributes(signer: &SignerInfo, tst_der: &[u8]) -> Result<(), TimestampError> {
    let attrs = signer.signed_attrs.as_ref().ok_or_else(|| TimestampError::Structure("no signed attributes".into()))?;
    let single = |oid: ObjectIdentifier, name: &str| -> Result<&Any, TimestampError> {
        let mut found = attrs.iter().filter(|a| a.oid == oid);
        let (Some(a), None) = (found.next(), found.next()) else {
            return Err(TimestampError::SignedAttributes(format!("not exactly one {name} attribute")));
        };
        let values: &SetOfVec<Any> = &a.values;
        match values.as_slice() {
            [v] => Ok(v),
            _ => Err(TimestampError::SignedAttributes(format!("{name} attribute has not exactly one value"))),
        }
    };
    let ct: ObjectIdentifier =
        single(ID_CONTENT_TYPE, "content-type")?.decode_as().map_err(malformed("content-type attribute"))?;
    if ct != ID_CT_TST_INFO {
        return Err(TimestampError::SignedAttributes(format!("content-type attribute {ct} is not id-ct-TSTInfo")));
    }
    let md: OctetString =
        single(ID_MESSAGE_DIGEST, "message-digest")?.decode_as().map_err(malformed("message-digest attribute"))?;
    let actual = digest(&signer.digest_alg.oid, tst_der)?;
    if md.as_bytes() != actual.as_slice() {
        return Err(TimestampError::SignedAttributes(format!(
            "message-digest attribute {} but the TSTInfo hashes to {}: the TSTInfo was altered",
            hex::encode(md.as_bytes()),
            hex::encode(actual)
        )));
    }
    Ok(())
}

fn digest(alg: &ObjectIdentifier, data: &[u8]) -> Result<Vec<u8>, TimestampError> {
    Ok(match *alg {
        ID_SHA256 => Sha256::digest(data).to_vec(),
        ID_SHA384 => Sha384::digest(data).to_vec(),
        ID_SHA512 => Sha512::digest(data).to_vec(),
        other => return Err(TimestampError::Unsupported { what: "digest", oid: other.to_string() }),
    })
}

/// The certificate the signer identifier names, among the token's certificates.
fn find_signer_cert<'a>(sid: &SignerIdentifier, certs: &[&'a Certificate]) -> Result<&'a Certificate, TimestampError> {
    let found = certs.iter().copied().find(|c| {
        let tbs = c.tbs_certificate();
        match sid {
            SignerIdentifier::IssuerAndSerialNumber(isn) => {
                tbs.issuer() == &isn.issuer && tbs.serial_number() == &isn.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => {
                matches!(tbs.get_extension::<x509_cert::ext::pkix::SubjectKeyIdentifier>(), Ok(Some((_, s))) if &s == ski)
            }
        }
    });
    found.ok_or_else(|| {
        TimestampError::Signature("the token does not carry the signer's certificate (request it with certReq)".into())
    })
}

/// Verifies `sig` over `msg` by the key in `spki` under signature algorithm `sig_alg` (for CMS, `rsaEncryption`
/// takes its digest from `digest_alg`).
fn verify_signature(
    spki: &spki::SubjectPublicKeyInfoOwned,
    sig_alg: &ObjectIdentifier,
    digest_alg: Option<&ObjectIdentifier>,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), TimestampError> {
    use rsa::signature::Verifier;
    let bad = |e: rsa::signature::Error| TimestampError::Signature(e.to_string());
    let key_alg = spki.algorithm.oid;
    let rsa_digest = match *sig_alg {
        SHA256_WITH_RSA => Some(ID_SHA256),
        SHA384_WITH_RSA => Some(ID_SHA384),
        SHA512_WITH_RSA => Some(ID_SHA512),
        RSA_ENCRYPTION => digest_alg.copied(),
        _ => None,
    };
    if let Some(d) = rsa_digest {
        if key_alg != RSA_ENCRYPTION {
            return Err(TimestampError::Signature(format!("an RSA signature by a {key_alg} key")));
        }
        let der = spki.to_der().map_err(malformed("RSA public key"))?;
        let spki_ref = spki::SubjectPublicKeyInfoRef::from_der(&der).map_err(malformed("RSA public key"))?;
        let key = rsa::PublicKey::try_from(spki_ref)
            .map_err(|e| TimestampError::Malformed { what: "RSA public key", detail: e.to_string() })?;
        let sig = rsa::pkcs1v15::Signature::try_from(sig).map_err(bad)?;
        return match d {
            ID_SHA256 => rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key).verify(msg, &sig).map_err(bad),
            ID_SHA384 => rsa::pkcs1v15::VerifyingKey::<Sha384>::new(key).verify(msg, &sig).map_err(bad),
            ID_SHA512 => rsa::pkcs1v15::VerifyingKey::<Sha512>::new(key).verify(msg, &sig).map_err(bad),
            other => Err(TimestampError::Unsupported { what: "digest", oid: other.to_string() }),
        };
    }
    if matches!(*sig_alg, ECDSA_WITH_SHA256 | ECDSA_WITH_SHA384 | ECDSA_WITH_SHA512) {
        let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        if key_alg != ID_EC_PUBLIC_KEY || curve != Some(SECP256R1) {
            return Err(TimestampError::Unsupported { what: "ECDSA curve", oid: format!("{curve:?}") });
        }
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes()).map_err(bad)?;
        let sig = p256::ecdsa::Signature::from_der(sig).map_err(bad)?;
        let prehash = match *sig_alg {
            ECDSA_WITH_SHA256 => Sha256::digest(msg).to_vec(),
            ECDSA_WITH_SHA384 => Sha384::digest(msg).to_vec(),
            _ => Sha512::digest(msg).to_vec(),
        };
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        return key.verify_prehash(&prehash, &sig).map_err(bad);
    }
    Err(TimestampError::Unsupported { what: "signature", oid: sig_alg.to_string() })
}

/// RFC 3161 §2.3: the TSA certificate has exactly one extended key usage, `id-kp-timeStamping`, marked critical.
fn check_time_stamping_eku(cert: &Certificate) -> Result<(), TimestampError> {
    match cert.tbs_certificate().get_extension::<ExtendedKeyUsage>() {
        Ok(Some((true, eku))) if eku.0 == [ID_KP_TIME_STAMPING] => Ok(()),
        Ok(Some((false, _))) => Err(TimestampError::KeyUsage("extendedKeyUsage is not critical".into())),
        Ok(Some((_, eku))) => Err(TimestampError::KeyUsage(format!(
            "extendedKeyUsage is {:?}, not only timeStamping",
            eku.0.iter().map(ToString::to_string).collect::<Vec<_>>()
        ))),
        Ok(None) => Err(TimestampError::KeyUsage("no extendedKeyUsage extension".into())),
        Err(e) => Err(TimestampError::KeyUsage(format!("unreadable extendedKeyUsage: {e}"))),
    }
}

/// The chain to a root, and nothing unverified besides: every certificate the token carries is on that path or is
/// one of the trusted roots byte for byte.
fn check_anchored(
    tsa: &Certificate,
    certs: &[&Certificate],
    roots: &[Certificate],
    t: i64,
) -> Result<(), TimestampError> {
    let path = check_chain(tsa, certs, roots, t)?;
    for c in certs {
        let on_path = path.iter().any(|p| std::ptr::eq(*p, *c));
        if !on_path && !roots.iter().any(|r| r == *c) {
            return Err(TimestampError::Chain(format!(
                "the token carries certificate {} that is neither on the path nor a trusted root",
                c.tbs_certificate().subject()
            )));
        }
    }
    Ok(())
}

fn valid_at(cert: &Certificate, t: i64) -> bool {
    let v = cert.tbs_certificate().validity();
    let secs = |x: x509_cert::time::Time| i64::try_from(x.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
    secs(v.not_before) <= t && t <= secs(v.not_after)
}

fn is_ca(cert: &Certificate) -> bool {
    matches!(cert.tbs_certificate().get_extension::<BasicConstraints>(), Ok(Some((_, bc))) if bc.ca)
}

/// Walks from the TSA certificate through the token's CA certificates to one of `roots`, checking each signature
/// and that every certificate on the path (the root included) was valid at the token's time `t`. Returns the path
/// below the root.
fn check_chain<'a>(
    tsa: &'a Certificate,
    certs: &[&'a Certificate],
    roots: &[Certificate],
    t: i64,
) -> Result<Vec<&'a Certificate>, TimestampError> {
    let subject = |c: &Certificate| c.tbs_certificate().subject().to_string();
    let mut current = tsa;
    let mut path = vec![tsa];
    for _ in 0..MAX_CHAIN {
        if !valid_at(current, t) {
            return Err(TimestampError::Chain(format!("{} was not valid at the token's time", subject(current))));
        }
        let tbs = current.tbs_certificate();
        if current.signature_algorithm() != tbs.signature() {
            return Err(TimestampError::Chain(format!(
                "{}: signatureAlgorithm differs from the signed one (RFC 5280 §4.1.1.2)",
                subject(current)
            )));
        }
        let tbs_der = tbs.to_der().map_err(malformed("certificate"))?;
        let sig = current.signature().as_bytes().unwrap_or_default();
        let alg = current.signature_algorithm().oid;
        for root in roots.iter().filter(|r| r.tbs_certificate().subject() == tbs.issuer()) {
            let key = root.tbs_certificate().subject_public_key_info();
            if verify_signature(key, &alg, None, &tbs_der, sig).is_ok() {
                if !valid_at(root, t) {
                    return Err(TimestampError::Chain(format!(
                        "root {} was not valid at the token's time",
                        subject(root)
                    )));
                }
                return Ok(path);
            }
        }
        let issuer = certs.iter().copied().find(|c| {
            c.tbs_certificate().subject() == tbs.issuer()
                && is_ca(c)
                && verify_signature(c.tbs_certificate().subject_public_key_info(), &alg, None, &tbs_der, sig).is_ok()
        });
        match issuer {
            Some(next) if !path.iter().any(|p| std::ptr::eq(*p, next)) => {
                current = next;
                path.push(next);
            }
            _ => {
                return Err(TimestampError::Chain(format!(
                    "no trusted root or CA certificate in the token signed {} (issuer {})",
                    subject(current),
                    tbs.issuer()
                )));
            }
        }
    }
    Err(TimestampError::Chain(format!("path longer than {MAX_CHAIN} certificates")))
}

/// `genTime` as written and in POSIX seconds. Accepts `YYYYMMDDhhmmss[.f+]Z` (RFC 3161 §2.4.2).
fn parse_gen_time(any: &Any) -> Result<(String, i64), TimestampError> {
    let bad = |d: &str| TimestampError::Malformed { what: "genTime", detail: d.to_owned() };
    if any.tag() != der::Tag::GeneralizedTime {
        return Err(bad("not a GeneralizedTime"));
    }
    let s = std::str::from_utf8(any.value()).map_err(|_| bad("not ASCII"))?;
    let body = s.strip_suffix('Z').ok_or_else(|| bad("not in UTC (no final Z)"))?;
    let whole = match body.split_once('.') {
        Some((w, f)) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) && !f.ends_with('0') => w,
        Some(_) => return Err(bad("bad fraction of a second")),
        None => body,
    };
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not YYYYMMDDhhmmss"));
    }
    let mut der_time = whole.as_bytes().to_vec();
    der_time.push(b'Z');
    let mut enc = vec![0x18, u8::try_from(der_time.len()).map_err(|_| bad("too long"))?];
    enc.extend_from_slice(&der_time);
    let t = GeneralizedTime::from_der(&enc).map_err(|e| bad(&e.to_string()))?;
    let secs = i64::try_from(t.to_unix_duration().as_secs()).map_err(|_| bad("out of range"))?;
    Ok((s.to_owned(), secs))
}
