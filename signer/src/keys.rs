//! Ed25519 keys, key ids, key files, and verification whose single and batch verdicts are identical.
//!
//! Signing uses ed25519-dalek. Verification is implemented here on curve25519-dalek because the verdict must not
//! depend on the path taken: dalek's `verify_strict` is cofactorless while its `verify_batch` is a cofactorless
//! random linear combination, and the two disagree on signatures whose R carries a small-order component. We use
//! the RFC 8032 §5.1.7 cofactored equation `[8][S]B = [8]R + [8][k]A` for both paths (as ZIP 215 does), plus the
//! strict encoding rules of `docs/FORMAT.md` §3: S < L, canonical encodings of A and R, and neither A nor R of
//! small order. A batch that fails is re-checked item by item so the caller learns which signature is bad.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroizing;

use crate::sm2::{DEFAULT_ID, Sm2PublicKey, Sm2SignatureError, Sm2SigningKey};

/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Errors about keys and key files.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The public key bytes are not an acceptable Ed25519 key (non-canonical or small order): re-enrol a real key.
    #[error("public key rejected: {0}")]
    BadPublicKey(&'static str),
    /// A key string or file has the wrong shape: the message says what was expected.
    #[error("malformed key: {0}")]
    Malformed(String),
    /// The key file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file concerned.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A private key file is readable by others; fix with `chmod 600`.
    #[error("key file {path} has mode {mode:o}; private keys must be 0600 (run: chmod 600 {path})")]
    InsecurePermissions {
        /// The file concerned.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The operating system's random source failed.
    #[error("no randomness available: {0}")]
    Random(String),
}

/// Why a signature did not verify. Every variant means "reject this record".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The S half is not a canonical scalar (S ≥ L): a malleated signature.
    #[error("signature scalar S is not canonical")]
    NonCanonicalS,
    /// The R half is not a canonical point encoding.
    #[error("signature point R is not a canonical encoding")]
    NonCanonicalR,
    /// R is of small order.
    #[error("signature point R is of small order")]
    SmallOrderR,
    /// The signature does not match the message and key.
    #[error("signature does not match the signed bytes and key")]
    Mismatch,
    /// An SM2 signature did not verify (malformed `r ‖ s`, or no match for the message, key and identity).
    #[error(transparent)]
    Sm2(Sm2SignatureError),
}

/// A key id of an event signer: the first 16 bytes of SHA-256(0x01 ‖ public key), in lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 16]);

impl KeyId {
    /// Computes the key id of a public key.
    pub fn of(public: &[u8; 32]) -> KeyId {
        let mut h = Sha256::new();
        h.update([0x01]);
        h.update(public);
        let d = h.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&d[..16]);
        KeyId(id)
    }

    /// Parses the 32-character lowercase hex form.
    pub fn parse(s: &str) -> Result<KeyId, KeyError> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(KeyError::Malformed(format!("key id must be 32 lowercase hex characters, got {s:?}")));
        }
        let mut id = [0u8; 16];
        hex::decode_to_slice(s, &mut id).map_err(|e| KeyError::Malformed(e.to_string()))?;
        Ok(KeyId(id))
    }

    /// Wraps 16 bytes already derived as a key id (the SM2 ids of [`crate::sm2`] are derived there).
    pub fn from_bytes(bytes: [u8; 16]) -> KeyId {
        KeyId(bytes)
    }

    /// The raw 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A checked Ed25519 public key: canonical encoding, not of small order. Parse once, verify many times.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    bytes: [u8; 32],
    point: EdwardsPoint,
}

impl PublicKey {
    /// Checks and accepts 32 public-key bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<PublicKey, KeyError> {
        let point =
            decompress_canonical(bytes).ok_or(KeyError::BadPublicKey("not a canonical encoding of a curve point"))?;
        if point.is_small_order() {
            return Err(KeyError::BadPublicKey("weak key (small-order point)"));
        }
        Ok(PublicKey { bytes: *bytes, point })
    }

    /// Parses standard padded base64 of the 32 key bytes.
    pub fn from_base64(s: &str) -> Result<PublicKey, KeyError> {
        let raw = B64.decode(s).map_err(|e| KeyError::Malformed(format!("public key is not canonical base64: {e}")))?;
        let bytes: [u8; 32] = raw.try_into().map_err(|_| KeyError::Malformed("public key must be 32 bytes".into()))?;
        PublicKey::from_bytes(&bytes)
    }

    /// The 32 key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Standard padded base64 of the key bytes.
    pub fn to_base64(&self) -> String {
        B64.encode(self.bytes)
    }

    /// This key's id.
    pub fn key_id(&self) -> KeyId {
        KeyId::of(&self.bytes)
    }

    /// Verifies one signature (strict encodings, cofactored equation).
    pub fn verify(&self, message: &[u8], signature: &[u8; SIGNATURE_LEN]) -> Result<(), SignatureError> {
        let p = Prepared::new(self, message, signature)?;
        // [8]([S]B − [k]A − R) = 0
        let sb_minus_ka = EdwardsPoint::vartime_double_scalar_mul_basepoint(&(-p.k), &self.point, &p.s);
        if (sb_minus_ka - p.r).mul_by_cofactor().is_identity() { Ok(()) } else { Err(SignatureError::Mismatch) }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.key_id())
    }
}

/// Decompresses a point, refusing non-canonical encodings (y ≥ p, or a sign bit set on x = 0).
fn decompress_canonical(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    let point = CompressedEdwardsY(*bytes).decompress()?;
    // y ≥ p = 2^255 − 19 means bytes[1..31] are 0xff, byte 31 is 0x7f (ignoring the sign bit) and byte 0 ≥ 0xed.
    let y_high_ones = bytes[1..31].iter().all(|&b| b == 0xff) && bytes[31] & 0x7f == 0x7f;
    if y_high_ones && bytes[0] >= 0xed {
        return None;
    }
    // x = 0 happens only for the small-order points (0, ±1); their sign bit must be clear.
    // Those are rejected as small order anyway, so the remaining check is y < p above.
    Some(point)
}

/// One signature's parsed parts, shared by single and batch verification.
struct Prepared {
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

impl Prepared {
    fn new(key: &PublicKey, message: &[u8], signature: &[u8; SIGNATURE_LEN]) -> Result<Prepared, SignatureError> {
        let mut r_bytes = [0u8; 32];
        r_bytes.copy_from_slice(&signature[..32]);
        let mut s_bytes = [0u8; 32];
        s_bytes.copy_from_slice(&signature[32..]);
        let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)).ok_or(SignatureError::NonCanonicalS)?;
        let r = decompress_canonical(&r_bytes).ok_or(SignatureError::NonCanonicalR)?;
        if r.is_small_order() {
            return Err(SignatureError::SmallOrderR);
        }
        let mut h = Sha512::new();
        h.update(r_bytes);
        h.update(key.bytes);
        h.update(message);
        let digest: [u8; 64] = h.finalize().into();
        let k = Scalar::from_bytes_mod_order_wide(&digest);
        Ok(Prepared { r, s, k })
    }
}

/// One item of a batch: key, signed message and signature.
#[derive(Debug, Clone, Copy)]
pub struct BatchItem<'a> {
    /// The signer's checked key.
    pub key: &'a PublicKey,
    /// The exact signed bytes.
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a [u8; SIGNATURE_LEN],
}

/// Verifies many signatures at once; the verdict for every item equals [`PublicKey::verify`]'s.
///
/// Returns one result per item. The fast path is one multiscalar multiplication over the whole batch with random
/// 128-bit weights; when it fails, each item is checked on its own to name the bad ones.
pub fn verify_batch(items: &[BatchItem<'_>]) -> Vec<Result<(), SignatureError>> {
    let mut results: Vec<Result<(), SignatureError>> = vec![Ok(()); items.len()];
    let mut prepared = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match Prepared::new(item.key, item.message, item.signature) {
            Ok(p) => prepared.push((i, p)),
            Err(e) => results[i] = Err(e),
        }
    }
    if prepared.is_empty() {
        return results;
    }
    let weights = batch_weights(items, prepared.len());
    // [8]( −(Σ z·S)·B + Σ z·R + Σ (z·k)·A ) = 0
    let mut b_coefficient = Scalar::ZERO;
    let mut scalars = Vec::with_capacity(2 * prepared.len() + 1);
    let mut points = Vec::with_capacity(2 * prepared.len() + 1);
    for ((i, p), z) in prepared.iter().zip(&weights) {
        b_coefficient += z * p.s;
        scalars.push(*z);
        points.push(p.r);
        scalars.push(z * p.k);
        points.push(items[*i].key.point);
    }
    scalars.push(-b_coefficient);
    points.push(ED25519_BASEPOINT_POINT);
    let sum = EdwardsPoint::vartime_multiscalar_mul(scalars, points);
    if sum.mul_by_cofactor().is_identity() {
        return results;
    }
    for (i, _) in prepared {
        let item = &items[i];
        results[i] = item.key.verify(item.message, item.signature);
    }
    results
}

/// Random 128-bit weights from the OS; a failing RNG falls back to weights hashed from the batch itself,
/// which is still sound because the signer cannot choose them after seeing them.
fn batch_weights(items: &[BatchItem<'_>], n: usize) -> Vec<Scalar> {
    let mut seed = [0u8; 32];
    if getrandom::fill(&mut seed).is_err() {
        let mut h = Sha256::new();
        for item in items {
            h.update(item.key.bytes);
            h.update(item.signature);
            h.update(Sha256::digest(item.message));
        }
        seed = h.finalize().into();
    }
    (0..n as u64)
        .map(|i| {
            let mut h = Sha256::new();
            h.update(seed);
            h.update(i.to_le_bytes());
            let d = h.finalize();
            let mut z = [0u8; 32];
            z[..16].copy_from_slice(&d[..16]);
            Scalar::from_bytes_mod_order(z)
        })
        .collect()
}

/// The signature algorithm a signer key declares (docs/FORMAT.md §3): an enrolment's optional `alg` member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// Ed25519 (RFC 8032), the default: an enrolment without `alg`.
    Ed25519,
    /// SM2 over SM3 (GB/T 32918.2, GM/T 0009), `alg: "sm2"`, format version 1.4.
    Sm2,
}

impl KeyAlgorithm {
    /// The name as enrolments and bundles write it.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Ed25519 => "ed25519",
            KeyAlgorithm::Sm2 => "sm2",
        }
    }

    /// Reads an `alg` member's value.
    pub fn parse(s: &str) -> Result<KeyAlgorithm, KeyError> {
        match s {
            "ed25519" => Ok(KeyAlgorithm::Ed25519),
            "sm2" => Ok(KeyAlgorithm::Sm2),
            other => Err(KeyError::Malformed(format!(
                "alg {other:?} is not a signature algorithm of this format (\"ed25519\" or \"sm2\")"
            ))),
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A checked signer public key of either algorithm: what an enrolment declares and a verifier checks envelopes
/// with. Ed25519 keys stay [`PublicKey`] everywhere they were; this wraps both.
#[derive(Clone, PartialEq, Eq)]
pub enum SignerKey {
    /// An Ed25519 key.
    Ed25519(PublicKey),
    /// An SM2 key with its signer identity `ID_A`.
    Sm2(Sm2PublicKey),
}

impl From<PublicKey> for SignerKey {
    fn from(k: PublicKey) -> SignerKey {
        SignerKey::Ed25519(k)
    }
}

impl From<Sm2PublicKey> for SignerKey {
    fn from(k: Sm2PublicKey) -> SignerKey {
        SignerKey::Sm2(k)
    }
}

impl SignerKey {
    /// Reads a key from the members an enrolment (or a bundle key entry) carries: `alg` (absent: Ed25519),
    /// `sm2_id` (only with `sm2`; absent: [`DEFAULT_ID`]) and `public_key` (base64: 32 bytes for Ed25519, the
    /// 65-byte uncompressed point for SM2).
    pub fn from_members(alg: Option<&str>, sm2_id: Option<&str>, public_key: &str) -> Result<SignerKey, KeyError> {
        let alg = alg.map(KeyAlgorithm::parse).transpose()?.unwrap_or(KeyAlgorithm::Ed25519);
        match alg {
            KeyAlgorithm::Ed25519 => {
                if sm2_id.is_some() {
                    return Err(KeyError::Malformed(
                        "sm2_id is only allowed with alg \"sm2\" (this key is Ed25519)".into(),
                    ));
                }
                PublicKey::from_base64(public_key).map(SignerKey::Ed25519)
            }
            KeyAlgorithm::Sm2 => {
                Sm2PublicKey::from_base64(public_key, sm2_id.unwrap_or(DEFAULT_ID)).map(SignerKey::Sm2)
            }
        }
    }

    /// Reads a key from its raw bytes, algorithm and identity (as a key row stores them).
    pub fn from_parts(alg: KeyAlgorithm, sm2_id: Option<&str>, bytes: &[u8]) -> Result<SignerKey, KeyError> {
        match alg {
            KeyAlgorithm::Ed25519 => {
                if sm2_id.is_some() {
                    return Err(KeyError::Malformed("an Ed25519 key has no SM2 signer identity".into()));
                }
                let bytes: &[u8; 32] = bytes.try_into().map_err(|_| {
                    KeyError::Malformed(format!("an Ed25519 public key is 32 bytes, got {}", bytes.len()))
                })?;
                PublicKey::from_bytes(bytes).map(SignerKey::Ed25519)
            }
            KeyAlgorithm::Sm2 => Sm2PublicKey::from_bytes(bytes, sm2_id.unwrap_or(DEFAULT_ID)).map(SignerKey::Sm2),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            SignerKey::Ed25519(_) => KeyAlgorithm::Ed25519,
            SignerKey::Sm2(_) => KeyAlgorithm::Sm2,
        }
    }

    /// The key's id: `SHA-256(0x01 ‖ key)[..16]` for Ed25519, the SM2 id of [`crate::sm2`] for SM2.
    pub fn key_id(&self) -> KeyId {
        match self {
            SignerKey::Ed25519(k) => k.key_id(),
            SignerKey::Sm2(k) => k.key_id(),
        }
    }

    /// The public key bytes (32 for Ed25519, 65 for SM2).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            SignerKey::Ed25519(k) => k.as_bytes(),
            SignerKey::Sm2(k) => k.as_bytes(),
        }
    }

    /// Standard padded base64 of the key bytes (an enrolment's `public_key`).
    pub fn to_base64(&self) -> String {
        B64.encode(self.as_bytes())
    }

    /// The SM2 signer identity, `None` for Ed25519.
    pub fn sm2_id(&self) -> Option<&str> {
        match self {
            SignerKey::Ed25519(_) => None,
            SignerKey::Sm2(k) => Some(k.id()),
        }
    }

    /// The `sm2_id` member an enrolment writes: the identity when it is not the default, else absent.
    pub fn declared_sm2_id(&self) -> Option<&str> {
        self.sm2_id().filter(|id| *id != DEFAULT_ID)
    }

    /// The Ed25519 key, if this is one.
    pub fn as_ed25519(&self) -> Option<&PublicKey> {
        match self {
            SignerKey::Ed25519(k) => Some(k),
            SignerKey::Sm2(_) => None,
        }
    }

    /// Verifies a 64-byte signature of `message` (Ed25519: §3's strict rules; SM2: fixed-width `r ‖ s` over SM3
    /// with this key's `Z_A`).
    pub fn verify(&self, message: &[u8], signature: &[u8; SIGNATURE_LEN]) -> Result<(), SignatureError> {
        match self {
            SignerKey::Ed25519(k) => k.verify(message, signature),
            SignerKey::Sm2(k) => k.verify(message, signature).map_err(SignatureError::Sm2),
        }
    }
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignerKey::Ed25519(k) => k.fmt(f),
            SignerKey::Sm2(k) => k.fmt(f),
        }
    }
}

/// One item of a mixed-algorithm batch: key, signed message and signature.
#[derive(Debug, Clone, Copy)]
pub struct SignerBatchItem<'a> {
    /// The signer's checked key.
    pub key: &'a SignerKey,
    /// The exact signed bytes.
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a [u8; SIGNATURE_LEN],
}

/// [`verify_batch`] for keys of either algorithm: the Ed25519 items are verified as one batch, the SM2 items one
/// by one (SM2 has no batch equation). One result per item, in input order; each equals [`SignerKey::verify`]'s.
pub fn verify_signer_batch(items: &[SignerBatchItem<'_>]) -> Vec<Result<(), SignatureError>> {
    let mut results: Vec<Result<(), SignatureError>> = vec![Ok(()); items.len()];
    let mut ed = Vec::with_capacity(items.len());
    let mut ed_of = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match item.key {
            SignerKey::Ed25519(k) => {
                ed.push(BatchItem { key: k, message: item.message, signature: item.signature });
                ed_of.push(i);
            }
            SignerKey::Sm2(_) => results[i] = item.key.verify(item.message, item.signature),
        }
    }
    for (r, i) in verify_batch(&ed).into_iter().zip(ed_of) {
        results[i] = r;
    }
    results
}

/// What signs envelopes: a key id and a 64-byte signature of a message (the caller adds its domain-separation
/// prefix). Implemented by [`SigningKey`] (Ed25519), [`Sm2SigningKey`] and [`AnySigningKey`].
pub trait EnvelopeSigner {
    /// The key id envelopes name as `signer`.
    fn key_id(&self) -> KeyId;
    /// Signs `message`: Ed25519 `R ‖ S`, or SM2 fixed-width `r ‖ s`.
    fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN];
}

/// Callers that hold a key behind a pointer sign through it, as they did when signing took `&SigningKey`.
impl<T: EnvelopeSigner + ?Sized> EnvelopeSigner for std::sync::Arc<T> {
    fn key_id(&self) -> KeyId {
        (**self).key_id()
    }
    fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        (**self).sign(message)
    }
}

impl<T: EnvelopeSigner + ?Sized> EnvelopeSigner for Box<T> {
    fn key_id(&self) -> KeyId {
        (**self).key_id()
    }
    fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        (**self).sign(message)
    }
}

impl<T: EnvelopeSigner + ?Sized> EnvelopeSigner for &T {
    fn key_id(&self) -> KeyId {
        (**self).key_id()
    }
    fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        (**self).sign(message)
    }
}

impl EnvelopeSigner for SigningKey {
    fn key_id(&self) -> KeyId {
        SigningKey::key_id(self)
    }
    fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        SigningKey::sign(self, message)
    }
}

impl EnvelopeSigner for Sm2SigningKey {
    fn key_id(&self) -> KeyId {
        Sm2SigningKey::key_id(self)
    }
    fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        Sm2SigningKey::sign(self, message)
    }
}

/// A private key of either algorithm, e.g. whatever key file a producer was given. Its `Debug` never shows the
/// secret.
#[derive(Debug)]
pub enum AnySigningKey {
    /// An Ed25519 key.
    Ed25519(SigningKey),
    /// An SM2 key with its signer identity.
    Sm2(Sm2SigningKey),
}

impl From<SigningKey> for AnySigningKey {
    fn from(k: SigningKey) -> AnySigningKey {
        AnySigningKey::Ed25519(k)
    }
}

impl From<Sm2SigningKey> for AnySigningKey {
    fn from(k: Sm2SigningKey) -> AnySigningKey {
        AnySigningKey::Sm2(k)
    }
}

impl AnySigningKey {
    /// The public half, algorithm-aware.
    pub fn public(&self) -> SignerKey {
        match self {
            AnySigningKey::Ed25519(k) => SignerKey::Ed25519(*k.public()),
            AnySigningKey::Sm2(k) => SignerKey::Sm2(k.public().clone()),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self {
            AnySigningKey::Ed25519(_) => KeyAlgorithm::Ed25519,
            AnySigningKey::Sm2(_) => KeyAlgorithm::Sm2,
        }
    }

    /// Writes the key file of its algorithm (0600, never overwriting).
    pub fn write_file(&self, path: &Path) -> Result<(), KeyError> {
        match self {
            AnySigningKey::Ed25519(k) => k.write_file(path),
            AnySigningKey::Sm2(k) => k.write_file(path),
        }
    }

    /// Reads an Ed25519 (`siteledger-ed25519-secret-v1`) or SM2 (`siteledger-sm2-secret-v1`) key file, telling
    /// them apart by their first word; refuses files readable by group or others.
    pub fn read_file(path: &Path) -> Result<AnySigningKey, KeyError> {
        let text = read_secret_file(path)?;
        if text.starts_with(crate::sm2::KEY_FILE_TAG) {
            Sm2SigningKey::read_file(path).map(AnySigningKey::Sm2)
        } else {
            SigningKey::read_file(path).map(AnySigningKey::Ed25519)
        }
    }
}

impl EnvelopeSigner for AnySigningKey {
    fn key_id(&self) -> KeyId {
        match self {
            AnySigningKey::Ed25519(k) => k.key_id(),
            AnySigningKey::Sm2(k) => k.key_id(),
        }
    }
    fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        match self {
            AnySigningKey::Ed25519(k) => k.sign(message),
            AnySigningKey::Sm2(k) => k.sign(message),
        }
    }
}

/// An Ed25519 private key. Its `Debug` never shows the secret.
pub struct SigningKey {
    inner: ed25519_dalek::SigningKey,
    public: PublicKey,
}

impl SigningKey {
    /// Generates a fresh key from the operating system's random source.
    pub fn generate() -> Result<SigningKey, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(SigningKey::from_seed(&seed))
    }

    /// Builds a key from its 32-byte seed (RFC 8032 private key).
    pub fn from_seed(seed: &[u8; 32]) -> SigningKey {
        let inner = ed25519_dalek::SigningKey::from_bytes(seed);
        let public_bytes = inner.verifying_key().to_bytes();
        // A key derived from a seed by RFC 8032 is never small order; from_bytes cannot fail for it.
        let point = CompressedEdwardsY(public_bytes).decompress().unwrap_or(ED25519_BASEPOINT_POINT);
        SigningKey { inner, public: PublicKey { bytes: public_bytes, point } }
    }

    /// The public half.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The key id of the public half.
    pub fn key_id(&self) -> KeyId {
        self.public.key_id()
    }

    /// Signs `message` (the caller adds its domain-separation prefix).
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.inner.sign(message).to_bytes()
    }

    /// Writes the key file: one line `siteledger-ed25519-secret-v1 <base64 seed>`, created with mode 0600.
    /// Refuses to overwrite an existing file.
    pub fn write_file(&self, path: &Path) -> Result<(), KeyError> {
        let line = Zeroizing::new(format!("{KEY_FILE_TAG} {}\n", B64.encode(self.inner.to_bytes())));
        write_secret_file(path, &line)
    }

    /// Reads a key file written by [`SigningKey::write_file`], refusing files readable by group or others.
    pub fn read_file(path: &Path) -> Result<SigningKey, KeyError> {
        let shown = path.display().to_string();
        let text = read_secret_file(path)?;
        let rest = text
            .trim_end_matches('\n')
            .strip_prefix(KEY_FILE_TAG)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or_else(|| {
                KeyError::Malformed(format!("{shown}: not a SiteLedger key file (expected `{KEY_FILE_TAG} <base64>`)"))
            })?;
        let seed =
            Zeroizing::new(B64.decode(rest).map_err(|e| KeyError::Malformed(format!("{shown}: bad base64: {e}")))?);
        let seed: [u8; 32] =
            seed.as_slice().try_into().map_err(|_| KeyError::Malformed(format!("{shown}: seed must be 32 bytes")))?;
        Ok(SigningKey::from_seed(&seed))
    }
}

const KEY_FILE_TAG: &str = "siteledger-ed25519-secret-v1";

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, secret redacted)", self.key_id())
    }
}

/// Writes a secret key file: one `line`, created with mode 0600 (never overwriting), fsynced. Shared by every key
/// type's `write_file`.
pub(crate) fn write_secret_file(path: &Path, line: &str) -> Result<(), KeyError> {
    let io = |source| KeyError::Io { path: path.display().to_string(), source };
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(line.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Reads a secret key file, refusing one readable by group or others. Shared by every key type's `read_file`.
pub(crate) fn read_secret_file(path: &Path) -> Result<Zeroizing<String>, KeyError> {
    let shown = path.display().to_string();
    let meta = fs::metadata(path).map_err(|source| KeyError::Io { path: shown.clone(), source })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::InsecurePermissions { path: shown, mode });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(Zeroizing::new(fs::read_to_string(path).map_err(|source| KeyError::Io { path: shown, source })?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_seed(&[n; 32])
    }

    #[test]
    fn batch_and_single_agree_and_name_the_bad_item() {
        let keys: Vec<SigningKey> = (1..=8).map(key).collect();
        let msgs: Vec<Vec<u8>> = (0..8).map(|i| format!("message {i}").into_bytes()).collect();
        let mut sigs: Vec<[u8; 64]> = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
        sigs[5][10] ^= 1;
        let items: Vec<BatchItem<'_>> =
            (0..8).map(|i| BatchItem { key: keys[i].public(), message: &msgs[i], signature: &sigs[i] }).collect();
        let got = verify_batch(&items);
        for (i, r) in got.iter().enumerate() {
            assert_eq!(*r, keys[i].public().verify(&msgs[i], &sigs[i]), "item {i}");
        }
        assert!(got[5].is_err());
        assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 7);
    }

    #[test]
    fn rejects_a_torsioned_r_in_both_paths() {
        // R' = R + T with T of order 8 fails the canonical equation; the batch must not let it through either.
        let k = key(9);
        let msg = b"torsion";
        let mut sig = k.sign(msg);
        let r = CompressedEdwardsY(sig[..32].try_into().expect("32")).decompress().expect("point");
        let t = curve25519_dalek::constants::EIGHT_TORSION[1];
        sig[..32].copy_from_slice(r.add_torsion_free_check(t).compress().as_bytes());
        assert!(k.public().verify(msg, &sig).is_err());
        let other = key(10);
        let other_sig = other.sign(b"fine");
        let items = [
            BatchItem { key: k.public(), message: msg, signature: &sig },
            BatchItem { key: other.public(), message: b"fine", signature: &other_sig },
        ];
        let got = verify_batch(&items);
        assert!(got[0].is_err());
        assert!(got[1].is_ok());
    }

    trait AddPoint {
        fn add_torsion_free_check(self, t: EdwardsPoint) -> EdwardsPoint;
    }
    impl AddPoint for EdwardsPoint {
        fn add_torsion_free_check(self, t: EdwardsPoint) -> EdwardsPoint {
            self + t
        }
    }

    #[test]
    fn rejects_weak_and_noncanonical_keys() {
        let identity =
            [1u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(PublicKey::from_bytes(&identity), Err(KeyError::BadPublicKey(_))));
        let mut y_ge_p = [0xffu8; 32];
        y_ge_p[0] = 0xee;
        y_ge_p[31] = 0x7f;
        assert!(PublicKey::from_bytes(&y_ge_p).is_err());
    }

    #[test]
    fn rejects_non_canonical_s() {
        let k = key(3);
        let mut sig = k.sign(b"m");
        // S + L is the classic malleation.
        let s = Scalar::from_canonical_bytes(sig[32..].try_into().expect("32")).expect("canonical");
        // L = 2^252 + 27742317777372353535851937790883648493, little-endian.
        let l_bytes: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
        ];
        let mut sum = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(s.as_bytes()[i]) + u16::from(l_bytes[i]) + carry;
            sum[i] = v as u8;
            carry = v >> 8;
        }
        sig[32..].copy_from_slice(&sum);
        assert_eq!(k.public().verify(b"m", &sig), Err(SignatureError::NonCanonicalS));
    }

    #[test]
    fn key_file_is_0600_and_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.key");
        let k = SigningKey::generate().expect("rng");
        k.write_file(&path).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        }
        let back = SigningKey::read_file(&path).expect("read");
        assert_eq!(back.public(), k.public());
        assert!(k.write_file(&path).is_err(), "never overwrites a key");
        assert!(!format!("{k:?}").contains(&B64.encode(k.inner.to_bytes())));
    }
}
