//! SM2 signing keys, public keys, key ids and key files; SM2 signatures over SM3 (GB/T 32918.2, GB/T 32905, GM/T 0009).
//!
//! The primitive layer; envelopes and enrolments use it from format version 1.4 (docs/FORMAT.md §11, through
//! [`crate::keys::SignerKey`] and [`crate::keys::AnySigningKey`]); checkpoints too from version 1.5 (§12, through [`crate::note`]). The curve is the recommended 256-bit curve of GB/T 32918.5 (`sm2p256v1`); the signature is
//! computed over `e = SM3(Z_A ‖ M)` where `Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A)` binds the
//! signer's identity `ID_A` (GM/T 0009 default [`DEFAULT_ID`]) and public key. Arithmetic and signing come from
//! RustCrypto's `sm2` crate (feature `dsa`); [`Sm2PublicKey::identity_hash`] is computed here from the standard, independently of
//! that crate's private one, so the vectors can state `Z_A` and `e` and tests can check both agree.
//!
//! Encodings:
//! * **Public key**: the 65-byte uncompressed SEC 1 point `04 ‖ x ‖ y` (as GM/T 0009 and GB/T 35276 carry it). The
//!   33-byte compressed form is refused so that one key has one encoding and so one key id.
//! * **Signature**: fixed-width `r ‖ s`, 64 bytes big-endian ([`SIGNATURE_LEN`]), is the form the format will use:
//!   the same width as an Ed25519 signature in every base64 field and note line, and no ASN.1 parser (with its BER
//!   leniencies) in any verifier. DER (`SEQUENCE { r INTEGER, s INTEGER }`, GM/T 0009 `SM2Signature`) is what
//!   signing devices (U盾, 签章服务器) emit: [`signature_from_der`] and [`signature_to_der`] convert at that boundary.
//! * **Key id**: the first 16 bytes of `SHA-256(0xff ‖ "sm2" ‖ ENTL_A ‖ ID_A ‖ 04 ‖ x ‖ y)`, 32 lowercase hex like
//!   the Ed25519 ids (`SHA-256(0x01 ‖ key)`). The identity is inside because the same point under two identities
//!   verifies different signatures; `0xff ‖ "sm2"` can equal no Ed25519 (`0x01`) or other C2SP one-byte key type.
//!
//! Signing uses the `sm2` crate's deterministic nonce (RFC 6979 construction with HMAC-SM3), so no random source
//! can fail or be weak at signing time; verifiers must not rely on it (any valid `k` gives a valid signature, and
//! other implementations use random `k`).

use std::fmt;
use std::path::Path;

use ::sm2::dsa::signature::hazmat::PrehashVerifier;
use ::sm2::dsa::signature::{Signer as _, Verifier as _};
use ::sm2::elliptic_curve::sec1::ToSec1Point;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest as _, Sha256};
use sm3::Sm3;
use zeroize::Zeroizing;

use crate::keys::{KeyError, KeyId, read_secret_file, write_secret_file};

/// GM/T 0009's default signer identity `ID_A`, used when a key declares none.
pub const DEFAULT_ID: &str = "1234567812345678";
/// Length of a fixed-width `r ‖ s` SM2 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Length of an uncompressed public key `04 ‖ x ‖ y`.
pub const PUBLIC_KEY_LEN: usize = 65;
/// `0xff ‖ "sm2"`: the signed-note escape byte for a type without a one-byte identifier, then ours. It starts the
/// bytes an SM2 key id hashes and an SM2 note key's bytes, and no Ed25519 (`0x01`) or other one-byte C2SP type.
pub const TYPE_PREFIX: &[u8] = b"\xffsm2";
/// Longest identity: `ENTL_A` is the identity's length in **bits** in two bytes.
pub const MAX_ID_LEN: usize = 8191;

/// The curve coefficients and base point of GB/T 32918.5 (`a`, `b`, `x_G`, `y_G`), as hashed into `Z_A`.
const CURVE_A: &str = "fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc";
const CURVE_B: &str = "28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93";
const GENERATOR_X: &str = "32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7";
const GENERATOR_Y: &str = "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0";

/// Why an SM2 signature did not verify. Every variant means "reject this record".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Sm2SignatureError {
    /// `r` or `s` is 0 or not below the group order `n` (GB/T 32918.2 §7.1 B1–B2), or the DER is not a DER
    /// `SEQUENCE` of two such `INTEGER`s.
    #[error("SM2 signature is not well formed (r and s must be in [1, n-1])")]
    Malformed,
    /// The signature does not match the message, key and identity.
    #[error("SM2 signature does not match the signed bytes, key and signer identity")]
    Mismatch,
}

/// Checks a signer identity: 0 to [`MAX_ID_LEN`] bytes (`ENTL_A` must fit its two bytes).
fn check_id(id: &str) -> Result<(), KeyError> {
    if id.len() > MAX_ID_LEN {
        return Err(KeyError::Malformed(format!("SM2 signer identity is {} bytes, at most {MAX_ID_LEN}", id.len())));
    }
    Ok(())
}

/// `ENTL_A`: the identity's length in bits, two bytes big-endian. Every key's identity passed [`check_id`].
fn entl(id: &str) -> [u8; 2] {
    u16::try_from(id.len() * 8).unwrap_or(u16::MAX).to_be_bytes()
}

/// SM3 (GB/T 32905) of `data`.
pub fn sm3(data: &[u8]) -> [u8; 32] {
    Sm3::digest(data).into()
}

/// Parses a DER `SM2Signature` (GM/T 0009: `SEQUENCE { r INTEGER, s INTEGER }`) into fixed-width `r ‖ s`.
pub fn signature_from_der(der: &[u8]) -> Result<[u8; SIGNATURE_LEN], Sm2SignatureError> {
    let sig = ::sm2::dsa::Signature::from_der(der).map_err(|_| Sm2SignatureError::Malformed)?;
    Ok(sig.to_bytes().into())
}

/// Encodes fixed-width `r ‖ s` as a DER `SM2Signature`.
pub fn signature_to_der(signature: &[u8; SIGNATURE_LEN]) -> Result<Vec<u8>, Sm2SignatureError> {
    let sig = parse_signature(signature)?;
    Ok(sig.to_der().to_vec())
}

fn parse_signature(signature: &[u8; SIGNATURE_LEN]) -> Result<::sm2::dsa::Signature, Sm2SignatureError> {
    // `from_slice` refuses r or s equal to 0 or ≥ n.
    ::sm2::dsa::Signature::from_slice(signature).map_err(|_| Sm2SignatureError::Malformed)
}

/// A checked SM2 public key with its signer identity: on the curve, not the point at infinity. Parse once, verify
/// many times (`Z_A` is computed once here).
#[derive(Clone)]
pub struct Sm2PublicKey {
    bytes: [u8; PUBLIC_KEY_LEN],
    id: String,
    inner: ::sm2::dsa::VerifyingKey,
}

impl PartialEq for Sm2PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes && self.id == other.id
    }
}

impl Eq for Sm2PublicKey {}

impl Sm2PublicKey {
    /// Checks and accepts a 65-byte uncompressed point `04 ‖ x ‖ y` with the signer identity `id`.
    pub fn from_bytes(bytes: &[u8], id: &str) -> Result<Sm2PublicKey, KeyError> {
        check_id(id)?;
        let bytes: [u8; PUBLIC_KEY_LEN] = bytes.try_into().map_err(|_| {
            KeyError::Malformed(format!(
                "SM2 public key must be the {PUBLIC_KEY_LEN}-byte uncompressed point 04‖x‖y, got {} bytes",
                bytes.len()
            ))
        })?;
        if bytes[0] != 0x04 {
            return Err(KeyError::Malformed("SM2 public key must be uncompressed (first byte 0x04)".into()));
        }
        let inner = ::sm2::dsa::VerifyingKey::from_sec1_bytes(id, &bytes)
            .map_err(|_| KeyError::BadPublicKey("not a point of the SM2 curve"))?;
        Ok(Sm2PublicKey { bytes, id: id.to_owned(), inner })
    }

    /// Parses standard padded base64 of the 65 key bytes.
    pub fn from_base64(s: &str, id: &str) -> Result<Sm2PublicKey, KeyError> {
        let raw =
            B64.decode(s).map_err(|e| KeyError::Malformed(format!("SM2 public key is not canonical base64: {e}")))?;
        Sm2PublicKey::from_bytes(&raw, id)
    }

    /// The 65 key bytes `04 ‖ x ‖ y`.
    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.bytes
    }

    /// Standard padded base64 of the key bytes.
    pub fn to_base64(&self) -> String {
        B64.encode(self.bytes)
    }

    /// The signer identity `ID_A` this key verifies under.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A)` (GB/T 32918.2 §5.5) for this key and its identity,
    /// written from the standard (independently of the `sm2` crate's own, which is private).
    pub fn identity_hash(&self) -> [u8; 32] {
        let mut h = Sm3::new();
        h.update(entl(&self.id));
        h.update(self.id.as_bytes());
        for constant in [CURVE_A, CURVE_B, GENERATOR_X, GENERATOR_Y] {
            let mut bytes = [0u8; 32];
            // The constants above are 64 hex digits each; decoding them cannot fail.
            let _ = hex::decode_to_slice(constant, &mut bytes);
            h.update(bytes);
        }
        h.update(&self.bytes[1..]);
        h.finalize().into()
    }

    /// `e = SM3(Z_A ‖ M)`, the digest that is actually signed (GB/T 32918.2 §6.1 A1–A2).
    pub fn message_digest(&self, message: &[u8]) -> [u8; 32] {
        let mut h = Sm3::new();
        h.update(self.identity_hash());
        h.update(message);
        h.finalize().into()
    }

    /// `0xff ‖ "sm2" ‖ ENTL_A ‖ ID_A ‖ 04 ‖ x ‖ y`: what the key id hashes (docs/FORMAT.md §11), and the type and
    /// key bytes of an SM2 note key (§12).
    pub fn typed_bytes(&self) -> Vec<u8> {
        let mut raw = Vec::with_capacity(TYPE_PREFIX.len() + 2 + self.id.len() + PUBLIC_KEY_LEN);
        raw.extend_from_slice(TYPE_PREFIX);
        raw.extend_from_slice(&entl(&self.id));
        raw.extend_from_slice(self.id.as_bytes());
        raw.extend_from_slice(&self.bytes);
        raw
    }

    /// This key's id (see the module documentation).
    pub fn key_id(&self) -> KeyId {
        let d = Sha256::digest(self.typed_bytes());
        let mut id = [0u8; 16];
        id.copy_from_slice(&d[..16]);
        KeyId::from_bytes(id)
    }

    /// Verifies a fixed-width `r ‖ s` signature of `message` (GB/T 32918.2 §7).
    pub fn verify(&self, message: &[u8], signature: &[u8; SIGNATURE_LEN]) -> Result<(), Sm2SignatureError> {
        let sig = parse_signature(signature)?;
        self.inner.verify(message, &sig).map_err(|_| Sm2SignatureError::Mismatch)
    }

    /// Verifies a DER-encoded signature of `message`.
    pub fn verify_der(&self, message: &[u8], der: &[u8]) -> Result<(), Sm2SignatureError> {
        self.verify(message, &signature_from_der(der)?)
    }

    /// Verifies a signature of a digest `e` the caller computed (for vectors that state `e`).
    pub fn verify_digest(&self, e: &[u8; 32], signature: &[u8; SIGNATURE_LEN]) -> Result<(), Sm2SignatureError> {
        let sig = parse_signature(signature)?;
        self.inner.verify_prehash(e, &sig).map_err(|_| Sm2SignatureError::Mismatch)
    }
}

impl fmt::Debug for Sm2PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sm2PublicKey({})", self.key_id())
    }
}

/// An SM2 private key `d` with its signer identity. Its `Debug` never shows the secret.
///
/// Unlike ed25519-dalek's key, the `sm2` 0.14 crate's `SigningKey` does not wipe `d` when dropped (its scalar
/// implements `Zeroize` but the key has no `Drop`), and it keeps `d` private, so this wrapper cannot wipe it either;
/// the copies this module makes (key file text, decoded bytes) are `Zeroizing`.
pub struct Sm2SigningKey {
    inner: ::sm2::dsa::SigningKey,
    public: Sm2PublicKey,
}

impl Sm2SigningKey {
    /// Generates a fresh key from the operating system's random source.
    pub fn generate(id: &str) -> Result<Sm2SigningKey, KeyError> {
        // Rejection sampling: a uniformly random 32-byte string is a valid `d` (1 ≤ d ≤ n − 2) with probability
        // ≈ 1 − 2^-32, so this loop ends at once in practice.
        loop {
            let mut d = Zeroizing::new([0u8; 32]);
            getrandom::fill(d.as_mut()).map_err(|e| KeyError::Random(e.to_string()))?;
            match Sm2SigningKey::from_secret(&d, id) {
                Ok(key) => return Ok(key),
                Err(KeyError::BadPublicKey(_)) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Builds a key from its 32-byte big-endian private scalar `d` (1 ≤ d ≤ n − 2, GB/T 32918.1 §6.1) and identity.
    pub fn from_secret(d: &[u8; 32], id: &str) -> Result<Sm2SigningKey, KeyError> {
        check_id(id)?;
        // d = n − 1 is refused by the standard: (1 + d) has no inverse mod n, so no signature could be made.
        if *d == N_MINUS_ONE {
            return Err(KeyError::BadPublicKey("SM2 private key d must be at most n − 2"));
        }
        let inner = ::sm2::dsa::SigningKey::from_slice(id, d)
            .map_err(|_| KeyError::BadPublicKey("SM2 private key d must be in [1, n − 2]"))?;
        let point = inner.verifying_key().to_sec1_point(false);
        let bytes: [u8; PUBLIC_KEY_LEN] = point
            .as_bytes()
            .try_into()
            .map_err(|_| KeyError::BadPublicKey("SM2 public key is not an uncompressed point"))?;
        let public = Sm2PublicKey { bytes, id: id.to_owned(), inner: inner.verifying_key().clone() };
        Ok(Sm2SigningKey { inner, public })
    }

    /// The public half.
    pub fn public(&self) -> &Sm2PublicKey {
        &self.public
    }

    /// The key id of the public half.
    pub fn key_id(&self) -> KeyId {
        self.public.key_id()
    }

    /// Signs `message` (the caller adds its domain-separation prefix), giving fixed-width `r ‖ s`.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        let sig: ::sm2::dsa::Signature = self.inner.sign(message);
        sig.to_bytes().into()
    }

    /// Writes the key file: one line `siteledger-sm2-secret-v1 <base64 d> <base64 ID_A>`, created with mode 0600.
    /// The identity is base64 because it may hold spaces. Refuses to overwrite an existing file.
    pub fn write_file(&self, path: &Path) -> Result<(), KeyError> {
        let d = Zeroizing::new(self.inner.to_bytes());
        let line =
            Zeroizing::new(format!("{KEY_FILE_TAG} {} {}\n", B64.encode(d.as_slice()), B64.encode(&self.public.id)));
        write_secret_file(path, &line)
    }

    /// Reads a key file written by [`Sm2SigningKey::write_file`], refusing files readable by group or others.
    pub fn read_file(path: &Path) -> Result<Sm2SigningKey, KeyError> {
        let shown = path.display().to_string();
        let text = read_secret_file(path)?;
        let malformed = || {
            KeyError::Malformed(format!(
                "{shown}: not a SiteLedger SM2 key file (expected `{KEY_FILE_TAG} <base64 d> <base64 identity>`)"
            ))
        };
        let rest = text.trim_end_matches('\n').strip_prefix(KEY_FILE_TAG).and_then(|r| r.strip_prefix(' '));
        let (d, id) = rest.and_then(|r| r.split_once(' ')).ok_or_else(malformed)?;
        let d = Zeroizing::new(B64.decode(d).map_err(|e| KeyError::Malformed(format!("{shown}: bad base64: {e}")))?);
        let d: Zeroizing<[u8; 32]> = Zeroizing::new(
            d.as_slice()
                .try_into()
                .map_err(|_| KeyError::Malformed(format!("{shown}: the private key must be 32 bytes")))?,
        );
        let id = B64.decode(id).map_err(|e| KeyError::Malformed(format!("{shown}: bad base64 identity: {e}")))?;
        let id = String::from_utf8(id)
            .map_err(|_| KeyError::Malformed(format!("{shown}: the signer identity is not UTF-8")))?;
        Sm2SigningKey::from_secret(&d, &id)
    }
}

/// The first word of an SM2 key file.
pub(crate) const KEY_FILE_TAG: &str = "siteledger-sm2-secret-v1";

/// `n − 1` for the SM2 curve, the one nonzero scalar the standard forbids as a private key.
const N_MINUS_ONE: [u8; 32] = [
    0xff, 0xff, 0xff, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x72, 0x03, 0xdf,
    0x6b, 0x21, 0xc6, 0x05, 0x2b, 0x53, 0xbb, 0xf4, 0x09, 0x39, 0xd5, 0x41, 0x22,
];

impl fmt::Debug for Sm2SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sm2SigningKey({}, secret redacted)", self.key_id())
    }
}
