#!/usr/bin/env python3
"""Independent verifier for the SiteLedger v1 formats.

Written from docs/FORMAT.md alone (plus the test vectors); pure Python 3.11
standard library. Library functions for canonical JSON, Ed25519 verification
(with the strictness rules of FORMAT.md section 3), envelopes, the RFC 9162
Merkle log, C2SP checkpoints / signed notes and evidence bundles, plus a CLI:

    python3 verify.py bundle.json --log-key VKEY [--json]

Exit status: 0 = valid, 1 = invalid, 2 = usage / I/O error.
"""

import base64
import binascii
import hashlib
import json
import re
import sys
from fractions import Fraction

# ---------------------------------------------------------------------------
# Errors

class FormatError(Exception):
    """Raised when input does not follow FORMAT.md."""


# ---------------------------------------------------------------------------
# Strict encodings (FORMAT.md "Conventions")

_B64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_HEX_RE = re.compile(r"[0-9a-f]*")


def b64decode_strict(s, length=None):
    """Decode standard, padded base64; reject anything but the canonical encoding."""
    if not isinstance(s, str):
        raise FormatError("base64: not a string")
    if not _B64_RE.fullmatch(s) or len(s) % 4 != 0:
        raise FormatError("base64: not canonical padded standard base64: %r" % s[:60])
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError) as e:
        raise FormatError("base64: %s" % e)
    if base64.b64encode(raw).decode("ascii") != s:
        raise FormatError("base64: non-canonical encoding (non-zero unused bits): %r" % s[:60])
    if length is not None and len(raw) != length:
        raise FormatError("base64: expected %d bytes, got %d" % (length, len(raw)))
    return raw


def b64encode(b):
    return base64.b64encode(b).decode("ascii")


def hexdecode_strict(s, length=None):
    """Decode lowercase hex; reject uppercase and odd lengths."""
    if not isinstance(s, str) or not _HEX_RE.fullmatch(s) or len(s) % 2:
        raise FormatError("hex: not lowercase hex: %r" % (s if not isinstance(s, str) else s[:70]))
    raw = bytes.fromhex(s)
    if length is not None and len(raw) != length:
        raise FormatError("hex: expected %d bytes, got %d" % (length, len(raw)))
    return raw


# ---------------------------------------------------------------------------
# Canonical JSON (FORMAT.md section 2)

MAX_SAFE_INT = 2 ** 53 - 1


def _reject_float(s):
    raise FormatError("JSON: non-integer number %s" % s)


def _reject_constant(s):
    raise FormatError("JSON: %s is not JSON" % s)


def _parse_int(s):
    digits = s[1:] if s.startswith("-") else s
    if len(digits) > 16:  # 2^53 - 1 has 16 digits
        raise FormatError("JSON: integer out of range: %s" % s[:40])
    v = int(s)
    if abs(v) > MAX_SAFE_INT:
        raise FormatError("JSON: integer out of range: %s" % s)
    return v


def _object_pairs(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise FormatError("JSON: duplicate member name %r" % k)
        obj[k] = v
    return obj


def _check_strings(x):
    """Reject escaped lone surrogates such as "\\ud800" (section 2.1); pairs are fine."""
    stack = [x]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise FormatError("JSON: string with unpaired surrogate")
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())


def parse_strict(data):
    """Parse UTF-8 JSON bytes (or str) under the input rules of section 2.1."""
    if isinstance(data, (bytes, bytearray)):
        if bytes(data[:3]) == b"\xef\xbb\xbf":
            raise FormatError("JSON: byte-order mark")
        try:
            text = bytes(data).decode("utf-8")  # strict: no BOM stripping, no CESU, no encoded surrogates
        except UnicodeDecodeError as e:
            raise FormatError("JSON: not UTF-8: %s" % e)
    elif isinstance(data, str):
        text = data
    else:
        raise TypeError("parse_strict wants bytes or str")
    if text.startswith("\ufeff"):
        raise FormatError("JSON: byte-order mark")
    try:
        value = json.loads(text, object_pairs_hook=_object_pairs, parse_float=_reject_float,
                           parse_int=_parse_int, parse_constant=_reject_constant)
    except FormatError:
        raise
    except RecursionError:
        raise FormatError("JSON: nested too deeply")
    except ValueError as e:
        raise FormatError("JSON: %s" % e)
    _check_strings(value)
    return value


_ESC = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _canon_str(s, out):
    out.append('"')
    for ch in s:
        e = _ESC.get(ch)
        if e is not None:
            out.append(e)
        elif ch < " ":
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')


def _canon(x, out):
    if x is None:
        out.append("null")
    elif x is True:
        out.append("true")
    elif x is False:
        out.append("false")
    elif type(x) is int:
        if abs(x) > MAX_SAFE_INT:
            raise FormatError("canonical: integer out of range")
        out.append(str(x))
    elif isinstance(x, str):
        _canon_str(x, out)
    elif isinstance(x, list):
        out.append("[")
        for i, v in enumerate(x):
            if i:
                out.append(",")
            _canon(v, out)
        out.append("]")
    elif isinstance(x, dict):
        out.append("{")
        for i, k in enumerate(sorted(x, key=lambda k: k.encode("utf-16-be", "surrogatepass"))):
            if not isinstance(k, str):
                raise FormatError("canonical: non-string member name")
            if i:
                out.append(",")
            _canon_str(k, out)
            out.append(":")
            _canon(x[k], out)
        out.append("}")
    else:
        raise FormatError("canonical: unsupported value of type %s" % type(x).__name__)


def canonical(x):
    """canonical(x): the JCS bytes of a value that satisfies the section 2 input rules."""
    out = []
    _canon(x, out)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError:
        raise FormatError("canonical: string with unpaired surrogate")


# ---------------------------------------------------------------------------
# Ed25519 (RFC 8032 section 5.1) with FORMAT.md section 3 strictness

P = 2 ** 255 - 19
L = 2 ** 252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
IDENTITY = (0, 1, 1, 0)


def _pt_add(p1, p2):
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _pt_neg(p1):
    x, y, z, t = p1
    return ((-x) % P, y, z, (-t) % P)


def pt_mul(k, p1):
    q = IDENTITY
    while k > 0:
        if k & 1:
            q = _pt_add(q, p1)
        p1 = _pt_add(p1, p1)
        k >>= 1
    return q


def pt_equal(p1, p2):
    x1, y1, z1, _ = p1
    x2, y2, z2, _ = p2
    return (x1 * z2 - x2 * z1) % P == 0 and (y1 * z2 - y2 * z1) % P == 0


def _recover_x(y, sign):
    """RFC 8032 5.1.3 step 2-4; None if no such point."""
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    vx2 = v * x * x % P
    if vx2 == u:
        pass
    elif vx2 == (-u) % P:
        x = x * SQRT_M1 % P
    else:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return x


def pt_decode(b):
    """Decode a 32-byte encoding; FormatError unless canonical (y < p) and on the curve."""
    if len(b) != 32:
        raise FormatError("point: not 32 bytes")
    n = int.from_bytes(b, "little")
    y = n & ((1 << 255) - 1)
    sign = n >> 255
    if y >= P:
        raise FormatError("point: non-canonical encoding (y >= p)")
    x = _recover_x(y, sign)
    if x is None:
        raise FormatError("point: not on the curve")
    return (x, y, 1, x * y % P)


def pt_encode(p1):
    x, y, z, _ = p1
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def pt_is_small_order(p1):
    return pt_equal(pt_mul(8, p1), IDENTITY)


_BY = 4 * pow(5, P - 2, P) % P
BASE = (_recover_x(_BY, 0), _BY, 1, _recover_x(_BY, 0) * _BY % P)


def decode_public_key(pk):
    """Section 3: a public key must be a canonical encoding of a point not of small order."""
    if not isinstance(pk, (bytes, bytearray)) or len(pk) != 32:
        raise FormatError("public key: not 32 bytes")
    a = pt_decode(bytes(pk))
    if pt_is_small_order(a):
        raise FormatError("public key: point of small order")
    return a


def ed25519_verify(pk, msg, sig):
    """True iff sig is valid for msg under pk per FORMAT.md section 3 (cofactored)."""
    try:
        a = decode_public_key(pk)
        if len(sig) != 64:
            return False
        rb, sb = bytes(sig[:32]), bytes(sig[32:])
        s = int.from_bytes(sb, "little")
        if s >= L:
            return False
        r = pt_decode(rb)
        if pt_is_small_order(r):
            return False
    except FormatError:
        return False
    k = int.from_bytes(hashlib.sha512(rb + bytes(pk) + bytes(msg)).digest(), "little") % L
    lhs = pt_mul(s, BASE)
    rhs = _pt_add(r, pt_mul(k, a))
    diff = _pt_add(lhs, _pt_neg(rhs))
    return pt_equal(pt_mul(8, diff), IDENTITY)


_VERIFY_CACHE = {}


def ed25519_verify_cached(pk, msg, sig):
    key = hashlib.sha256(b"%d:" % len(pk) + bytes(pk) + b"%d:" % len(sig) + bytes(sig) + bytes(msg)).digest()
    r = _VERIFY_CACHE.get(key)
    if r is None:
        r = ed25519_verify(pk, msg, sig)
        _VERIFY_CACHE[key] = r
    return r


def key_id(pk):
    """Signer key id: first 16 bytes of SHA-256(0x01 || pk), lowercase hex."""
    return hashlib.sha256(b"\x01" + bytes(pk)).digest()[:16].hex()


# ---------------------------------------------------------------------------
# Dates (RFC 3339 date-time with offset)

_DT_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})", re.ASCII)


def _days_from_civil(y, m, d):
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


MIN_YEAR = 2000


def parse_rfc3339(s, min_year=MIN_YEAR):
    """Return the instant (Fraction seconds since 1970 UTC) of an RFC 3339 date-time with offset.

    Section 4 rules (occurred_at, and "the same rules" for valid_from / valid_until / revoked_at):
    offset required (Z or +-hh:mm, up to 23:59; -00:00 is UTC), upper-case T and Z, optional fraction of
    1-9 digits, year 2000-9999 as written, a real calendar date, seconds 00-59 (no leap second).
    """
    if not isinstance(s, str):
        raise FormatError("date-time: not a string")
    m = _DT_RE.fullmatch(s)
    if not m:
        raise FormatError("date-time: not RFC 3339 with offset: %r" % s[:60])
    year, mon, day, hh, mm, ss = (int(g) for g in m.groups()[:6])
    frac, off = m.group(7), m.group(8)
    if not (min_year <= year <= 9999):
        raise FormatError("date-time: year out of range: %r" % s)
    if not 1 <= mon <= 12:
        raise FormatError("date-time: bad month: %r" % s)
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    mdays = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mon - 1]
    if not 1 <= day <= mdays:
        raise FormatError("date-time: bad day: %r" % s)
    if hh > 23 or mm > 59 or ss > 59:  # section 4: no leap second 60
        raise FormatError("date-time: bad time: %r" % s)
    offset = 0
    if off != "Z":
        oh, om = int(off[1:3]), int(off[4:6])
        if oh > 23 or om > 59:
            raise FormatError("date-time: bad offset: %r" % s)
        offset = (oh * 60 + om) * 60 * (1 if off[0] == "+" else -1)
    t = Fraction(_days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss - offset)
    if frac:
        t += Fraction(int(frac[1:]), 10 ** (len(frac) - 1))
    return t


# ---------------------------------------------------------------------------
# Envelopes (FORMAT.md section 4)

ENVELOPE_MEMBERS = {"v", "id", "stream", "kind", "occurred_at", "signer", "seq", "prev", "payload", "sig"}
ENROLL_KIND = "ledger.key.enrolled.v1"
REVOKE_KIND = "ledger.key.revoked.v1"
ENROLL_MEMBERS = {"key_id", "public_key", "subject", "role", "valid_from", "valid_until"}
ENVELOPE_PREFIX = b"siteledger-envelope-v1\x00"
MAX_ENVELOPE = 65536

_UUID7_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_STREAM_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}")
_KIND_RE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*\.v(?:0|[1-9][0-9]{0,5})")
_KEYID_RE = re.compile(r"[0-9a-f]{32}")
_HASH_HEX_RE = re.compile(r"[0-9a-f]{64}")


def is_event_id(s):
    return isinstance(s, str) and _UUID7_RE.fullmatch(s) is not None


def envelope_errors(env):
    """List of reasons why env is not a well-formed envelope (empty if it is)."""
    errs = []
    if not isinstance(env, dict):
        return ["envelope is not an object"]
    extra, missing = set(env) - ENVELOPE_MEMBERS, ENVELOPE_MEMBERS - set(env)
    if extra:
        errs.append("unknown members %s" % sorted(extra))
    if missing:
        errs.append("missing members %s" % sorted(missing))
    if missing:
        return errs
    if not (type(env["v"]) is int and env["v"] == 1):
        errs.append("v is not 1")
    if not is_event_id(env["id"]):
        errs.append("id is not a lowercase hyphenated UUIDv7")
    if not (isinstance(env["stream"], str) and _STREAM_RE.fullmatch(env["stream"])):
        errs.append("bad stream")
    kind = env["kind"]
    if not (isinstance(kind, str) and len(kind) <= 100 and _KIND_RE.fullmatch(kind)):
        errs.append("bad kind")
    try:
        parse_rfc3339(env["occurred_at"])
    except FormatError as e:
        errs.append("occurred_at: %s" % e)
    if not (isinstance(env["signer"], str) and _KEYID_RE.fullmatch(env["signer"])):
        errs.append("signer is not a key id")
    seq = env["seq"]
    if not (type(seq) is int and 1 <= seq <= MAX_SAFE_INT):
        errs.append("bad seq")
    else:
        prev = env["prev"]
        if seq == 1:
            if prev is not None:
                errs.append("prev must be null when seq is 1")
        elif not (isinstance(prev, str) and _HASH_HEX_RE.fullmatch(prev)):
            errs.append("prev must be a 64-hex leaf hash when seq > 1")
    if not isinstance(env["payload"], dict):
        errs.append("payload is not an object")
    elif kind == ENROLL_KIND:
        errs.extend("payload: " + e for e in enrollment_payload_errors(env["payload"]))
    try:
        b64decode_strict(env["sig"], 64)
    except FormatError as e:
        errs.append("sig: %s" % e)
    try:
        if len(canonical(env)) > MAX_ENVELOPE:
            errs.append("canonical envelope exceeds 65536 bytes")
    except FormatError as e:
        errs.append(str(e))
    return errs


def enrollment_payload_errors(p):
    errs = []
    extra, missing = set(p) - ENROLL_MEMBERS, ENROLL_MEMBERS - set(p)
    if extra:
        errs.append("unknown members %s" % sorted(extra))
    if missing:
        errs.append("missing members %s" % sorted(missing))
        return errs
    for m in ("subject", "role"):
        if not isinstance(p[m], str):
            errs.append("%s is not a string" % m)
    if not (isinstance(p["key_id"], str) and _KEYID_RE.fullmatch(p["key_id"])):
        errs.append("key_id is not a key id")
    try:
        pk = b64decode_strict(p["public_key"], 32)
        if key_id(pk) != p["key_id"]:
            errs.append("key_id does not match public_key")
    except FormatError as e:
        errs.append("public_key: %s" % e)
    try:
        vf = parse_rfc3339(p["valid_from"])
        if p["valid_until"] is not None:
            vu = parse_rfc3339(p["valid_until"])
            if not vu > vf:
                errs.append("valid_until is not after valid_from")
    except FormatError as e:
        errs.append("validity: %s" % e)
    return errs


def envelope_signed_message(env):
    """M = "siteledger-envelope-v1" || 0x00 || canonical(envelope without sig)."""
    u = {k: v for k, v in env.items() if k != "sig"}
    return ENVELOPE_PREFIX + canonical(u)


def verify_envelope_signature(env, pk):
    try:
        sig = b64decode_strict(env.get("sig"), 64)
        msg = envelope_signed_message(env)
    except FormatError:
        return False
    return ed25519_verify_cached(pk, msg, sig)


def leaf_bytes(env):
    return canonical(env)


def leaf_hash(env):
    return hashlib.sha256(b"\x00" + canonical(env)).digest()


# ---------------------------------------------------------------------------
# Merkle tree (RFC 9162 section 2.1)

def hash_leaf(data):
    return hashlib.sha256(b"\x00" + data).digest()


def hash_children(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n):
    """Largest power of two smaller than n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaf_hashes):
    """MTH over a list of leaf *hashes*."""
    n = len(leaf_hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return hash_children(mth(leaf_hashes[:k]), mth(leaf_hashes[k:]))


def inclusion_ranges(m, lo, hi):
    """Node ranges [a, b) of PATH(m, D[lo:hi]) (RFC 9162 2.1.3.1), leaf-sibling first."""
    n = hi - lo
    if n <= 1:
        return []
    k = _split(n)
    if m < k:
        return inclusion_ranges(m, lo, lo + k) + [(lo + k, hi)]
    return inclusion_ranges(m - k, lo + k, hi) + [(lo, lo + k)]


def consistency_ranges(m, lo, hi, b=True):
    """Node ranges of SUBPROOF(m, D[lo:hi], b) (RFC 9162 2.1.4.1)."""
    n = hi - lo
    if m == n:
        return [] if b else [(lo, hi)]
    k = _split(n)
    if m <= k:
        return consistency_ranges(m, lo, lo + k, b) + [(lo + k, hi)]
    return consistency_ranges(m - k, lo + k, hi, False) + [(lo, lo + k)]


def inclusion_proof(m, leaf_hashes):
    """PATH(m, D[0:n]) computed from all leaf hashes."""
    return [mth(leaf_hashes[a:b]) for a, b in inclusion_ranges(m, 0, len(leaf_hashes))]


def consistency_proof(m, leaf_hashes):
    """PROOF(m, D[0:n]); empty for m = 0 or m = n."""
    n = len(leaf_hashes)
    if m == 0 or m == n:
        return []
    return [mth(leaf_hashes[a:b]) for a, b in consistency_ranges(m, 0, n)]


def verify_inclusion(index, size, leaf_h, proof, root):
    """RFC 9162 section 2.1.3.2."""
    if not (0 <= index < size):
        return False
    fn, sn, r = index, size - 1, leaf_h
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            if not fn & 1:
                while not (fn & 1) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, proof):
    """RFC 9162 section 2.1.4.2, plus FORMAT.md section 5 for m = 0 and m = n."""
    if not (0 <= first <= second):
        return False
    if first == 0:
        return len(proof) == 0
    if first == second:
        return len(proof) == 0 and first_hash == second_hash
    if len(proof) == 0:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            if not fn & 1:
                while not (fn & 1) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


# ---------------------------------------------------------------------------
# Log keys, checkpoints, signed notes (FORMAT.md section 6)

EM_DASH_PREFIX = "\u2014 "
_NAME_RE = re.compile(r"[^\s+]+")
_SIZE_RE = re.compile(r"0|[1-9][0-9]*")


def note_key_id(name, pk):
    return hashlib.sha256(name.encode("utf-8") + b"\x0a\x01" + bytes(pk)).digest()[:4]


def log_key_string(name, pk):
    return "%s+%s+%s" % (name, note_key_id(name, pk).hex(), b64encode(b"\x01" + bytes(pk)))


class LogKey:
    def __init__(self, name, kid, pk):
        self.name, self.key_id, self.public_key = name, kid, pk


def parse_log_key(s):
    """Parse `<name>+<8 hex>+<base64(0x01 || pk)>`; FormatError if malformed or inconsistent."""
    if not isinstance(s, str):
        raise FormatError("log key: not a string")
    parts = s.split("+")
    if len(parts) != 3:
        raise FormatError("log key: expected name+keyid+key")
    name, kid_hex, kb64 = parts
    if not _NAME_RE.fullmatch(name):
        raise FormatError("log key: bad key name")
    if not re.fullmatch(r"[0-9a-f]{8}", kid_hex):
        raise FormatError("log key: key id is not 8 lowercase hex digits")
    raw = b64decode_strict(kb64, 33)
    if raw[0] != 0x01:
        raise FormatError("log key: algorithm is not Ed25519 (0x01)")
    pk = raw[1:]
    decode_public_key(pk)
    kid = bytes.fromhex(kid_hex)
    if note_key_id(name, pk) != kid:
        raise FormatError("log key: key id does not match name and public key")
    return LogKey(name, kid, pk)


class Checkpoint:
    def __init__(self, origin, size, root, extensions, text):
        self.origin, self.size, self.root, self.extensions, self.text = origin, size, root, extensions, text


def parse_checkpoint_text(text):
    if not text.endswith("\n"):
        raise FormatError("checkpoint: text does not end with newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise FormatError("checkpoint: fewer than three lines")
    origin, size_s, root_s = lines[0], lines[1], lines[2]
    if origin == "":
        raise FormatError("checkpoint: empty origin")
    if not _SIZE_RE.fullmatch(size_s) or int(size_s) >= 2 ** 63:
        raise FormatError("checkpoint: bad tree size line %r" % size_s[:30])
    root = b64decode_strict(root_s, 32)
    ext = lines[3:]
    if any(e == "" for e in ext):
        raise FormatError("checkpoint: empty extension line")
    return Checkpoint(origin, int(size_s), root, ext, text)


def verify_checkpoint_note(note, log_key):
    """Verify a signed checkpoint note under FORMAT.md section 6 and check 7.1/3.

    Every signature line must be by `log_key` (a LogKey) and valid, and the
    origin must equal the log key's name. Returns a Checkpoint; FormatError otherwise.
    """
    if not isinstance(note, str):
        raise FormatError("note: not a string")
    sep = note.find("\n\n")
    if sep < 0:
        raise FormatError("note: no empty line between text and signatures")
    text, sigs = note[:sep + 1], note[sep + 2:]
    if sigs == "" or not sigs.endswith("\n"):
        raise FormatError("note: no signature lines, or last line not newline-terminated")
    cp = parse_checkpoint_text(text)
    if cp.origin != log_key.name:
        raise FormatError("checkpoint: origin %r is not the log key name %r" % (cp.origin, log_key.name))
    msg = text.encode("utf-8")
    for i, line in enumerate(sigs[:-1].split("\n")):
        if not line.startswith(EM_DASH_PREFIX):
            raise FormatError("note: signature line %d does not start with an em dash and a space" % (i + 1))
        parts = line[len(EM_DASH_PREFIX):].split(" ")
        if len(parts) != 2 or not _NAME_RE.fullmatch(parts[0]):
            raise FormatError("note: malformed signature line %d" % (i + 1))
        name, b64 = parts
        raw = b64decode_strict(b64)
        if name != log_key.name:
            raise FormatError("note: signature line %d is by key %r, not the log key" % (i + 1, name))
        if len(raw) != 68 or raw[:4] != log_key.key_id:
            raise FormatError("note: signature line %d is not by the log key (key id / length)" % (i + 1))
        if not ed25519_verify_cached(log_key.public_key, msg, raw[4:]):
            raise FormatError("note: signature line %d does not verify" % (i + 1))
    return cp


# ---------------------------------------------------------------------------
# Evidence bundles (FORMAT.md section 7)

BUNDLE_FORMAT = "siteledger-evidence/v1"
BUNDLE_FORMAT_V1_1 = "siteledger-evidence/v1.1"   # section 7.3: v1 plus per-record `attachments`
# Section 7.3 checks, reported only when they apply (a record lists attachments; an attachments directory).
ATTACHMENT_CHECKS = ["attachment_citation", "attachment"]
CHECKS = ["bundle_format", "log_key", "checkpoint_signature", "key_id", "envelope_format", "signer_key",
          "signature", "key_enrollment", "key_validity", "inclusion", "signer_chain", "consistency"]
BUNDLE_MEMBERS = {"format", "log_key", "checkpoint", "keys", "records", "consistency"}
KEY_MEMBERS = {"key_id", "public_key", "enrolled_by"}
RECORD_MEMBERS = {"index", "envelope", "inclusion"}
CONSISTENCY_MEMBERS = {"checkpoint", "hashes"}


class Report:
    """Outcome of the section 7.1 checks.

    `results` holds only the checks that ran (name -> (ok, messages)). A check that
    cannot run because an earlier one failed is not reported (section 7.1); it is
    listed in `not_run` with the reason, and the verdict is "invalid" anyway.
    """

    def __init__(self):
        self.results = {}   # name -> (ok, [messages])
        self.not_run = {}   # name -> [reasons]
        self.notes = []
        self.chains = []    # section 7.2: enrollment chain of every key (see enrollment_chains)
        self.record_signers = []  # (index, signer key id) of the well-formed records

    def set(self, name, errors):
        self.results[name] = (not errors, list(errors))

    def skip(self, name, reasons):
        self.not_run[name] = list(reasons)

    @property
    def valid(self):
        return (all(name in self.results and self.results[name][0] for name in CHECKS)
                and all(self.results[n][0] for n in ATTACHMENT_CHECKS if n in self.results))

    def failed(self):
        """Checks that ran and failed, in section 7.1 (then 7.3) order."""
        return [n for n in CHECKS + ATTACHMENT_CHECKS if n in self.results and not self.results[n][0]]

    def to_json(self):
        return {"valid": self.valid,
                "checks": [{"name": n, "ok": self.results[n][0], "errors": self.results[n][1]}
                           for n in CHECKS + ATTACHMENT_CHECKS if n in self.results],
                "not_run": [{"name": n, "reasons": self.not_run[n]} for n in CHECKS if n in self.not_run],
                "enrollment_chains": self.chains,
                "notes": self.notes}


def _bundle_structure_errors(doc):
    errs = []
    if not isinstance(doc, dict):
        return ["bundle is not a JSON object"]
    if set(doc) != BUNDLE_MEMBERS:
        return ["bundle members are %s, expected %s" % (sorted(doc), sorted(BUNDLE_MEMBERS))]
    if doc["format"] not in (BUNDLE_FORMAT, BUNDLE_FORMAT_V1_1):
        errs.append("format is neither %r nor %r" % (BUNDLE_FORMAT, BUNDLE_FORMAT_V1_1))
    for m in ("log_key", "checkpoint"):
        if not isinstance(doc[m], str):
            errs.append("%s is not a string" % m)
    if not isinstance(doc["keys"], list):
        errs.append("keys is not an array")
    else:
        for i, k in enumerate(doc["keys"]):
            if not isinstance(k, dict) or set(k) != KEY_MEMBERS:
                errs.append("keys[%d] does not have exactly the members %s" % (i, sorted(KEY_MEMBERS)))
            elif not (isinstance(k["key_id"], str) and isinstance(k["public_key"], str)
                      and (k["enrolled_by"] is None or isinstance(k["enrolled_by"], str))):
                errs.append("keys[%d]: member of the wrong type" % i)
    if not isinstance(doc["records"], list):
        errs.append("records is not an array")
    else:
        if not doc["records"]:
            errs.append("records is empty")
        for i, r in enumerate(doc["records"]):
            v11 = doc["format"] == BUNDLE_FORMAT_V1_1 and isinstance(r, dict) and "attachments" in r
            if not isinstance(r, dict) or set(r) != (RECORD_MEMBERS | {"attachments"} if v11 else RECORD_MEMBERS):
                errs.append("records[%d] does not have exactly the members %s%s"
                            % (i, sorted(RECORD_MEMBERS), " (plus attachments in format v1.1)"))
            elif v11 and not (isinstance(r["attachments"], list) and r["attachments"]
                              and all(isinstance(h, str) and len(h) == 64 and _HEX_RE.fullmatch(h)
                                      for h in r["attachments"])
                              and all(a < b for a, b in zip(r["attachments"], r["attachments"][1:]))):
                errs.append("records[%d]: attachments is not a non-empty ascending list of distinct lowercase "
                            "SHA-256 hex digests" % i)
            elif not (type(r["index"]) is int and r["index"] >= 0 and isinstance(r["envelope"], dict)
                      and isinstance(r["inclusion"], list) and all(isinstance(h, str) for h in r["inclusion"])):
                errs.append("records[%d]: member of the wrong type" % i)
    c = doc["consistency"]
    if c is not None:
        if not isinstance(c, dict) or set(c) != CONSISTENCY_MEMBERS:
            errs.append("consistency is neither null nor an object with exactly %s" % sorted(CONSISTENCY_MEMBERS))
        elif not (isinstance(c["checkpoint"], str) and isinstance(c["hashes"], list)
                  and all(isinstance(h, str) for h in c["hashes"])):
            errs.append("consistency: member of the wrong type")
    return errs


def _cites(value, wanted):
    """Section 7.3: `wanted` occurs as a JSON string value anywhere in `value`."""
    if isinstance(value, str):
        return value == wanted
    if isinstance(value, list):
        return any(_cites(v, wanted) for v in value)
    if isinstance(value, dict):
        return any(_cites(v, wanted) for v in value.values())
    return False


def verify_package(data, trusted_log_key, files=None):
    """Section 7.3: the bundle checks, then `attachment_citation` (every listed digest is cited by the record's
    signed payload) and, with `files` (file name -> bytes of an attachments directory), `attachment`: every
    cited file present hashes to its name, and every file is cited. Cited files that are absent are notes."""
    rep = verify_bundle(data, trusted_log_key)
    if "envelope_format" not in rep.results:
        return rep
    doc = parse_strict(data)
    cited, errs = {}, []
    for r in doc["records"]:
        if "attachments" not in r or envelope_errors(r["envelope"]):
            continue
        bad = [h for h in r["attachments"] if not _cites(r["envelope"]["payload"], h)]
        if bad:
            errs.append("record index %d lists %s, which its signed payload does not cite" % (r["index"], bad))
        else:
            for h in r["attachments"]:
                cited.setdefault(h, []).append(r["index"])
    if any("attachments" in r for r in doc["records"]):
        rep.set("attachment_citation", errs)
    if files is not None:
        errs = []
        for h, idx in sorted(cited.items()):
            if h not in files:
                rep.notes.append("attachment %s (cited by record index %s) is not included" % (h, idx))
            elif hashlib.sha256(files[h]).hexdigest() != h:
                errs.append("file %s (cited by record index %s) does not hash to its name: altered" % (h, idx))
        errs += ["file %s is not cited by any record" % n for n in sorted(files) if n not in cited]
        rep.set("attachment", errs)
    return rep


def verify_bundle(data, trusted_log_key):
    """Run the twelve checks of section 7.1 on bundle bytes; returns a Report.

    Dependencies: a check that cannot run at all because an earlier check failed
    is not reported (Report.not_run). Where only some records or keys cannot be
    checked (e.g. the signature of a record whose envelope is malformed), the check
    fails if it found errors in the others; if it found none it is not reported
    either, so PASS always means "checked completely and fine".
    """
    rep = Report()

    def finish(name, errs, skipped):
        if errs:
            rep.set(name, errs)
            rep.notes.extend("%s: %s" % (name, s) for s in skipped)
        elif skipped:
            rep.skip(name, skipped)
        else:
            rep.set(name, [])

    # 1. bundle_format
    try:
        doc = parse_strict(data)
        body = data[:-1] if data.endswith(b"\n") else data
        errs = [] if canonical(doc) == body else ["file is not canonical(parsed document), "
                                                  "optionally followed by one \\n"]
        errs += _bundle_structure_errors(doc)
    except FormatError as e:
        doc, errs = None, [str(e)]
    rep.set("bundle_format", errs)
    if errs:
        for n in CHECKS[1:]:
            rep.skip(n, ["bundle_format failed"])
        return rep

    # 2. log_key
    try:
        lk = parse_log_key(trusted_log_key)
        rep.set("log_key", [] if doc["log_key"] == trusted_log_key
                else ["bundle log_key differs from the trusted log key"])
    except FormatError as e:
        lk = None
        rep.set("log_key", ["trusted log key: %s" % e])

    # 3. checkpoint_signature (always against the trusted key)
    cp = None
    if lk is None:
        rep.skip("checkpoint_signature", ["the trusted log key is unusable (log_key failed)"])
    else:
        try:
            cp = verify_checkpoint_note(doc["checkpoint"], lk)
            rep.set("checkpoint_signature", [])
        except FormatError as e:
            rep.set("checkpoint_signature", [str(e)])

    # 4. key_id
    keys, errs = {}, []          # keys: key id -> public key bytes, for keys that passed
    for i, k in enumerate(doc["keys"]):
        try:
            pk = b64decode_strict(k["public_key"], 32)
            decode_public_key(pk)
        except FormatError as e:
            errs.append("keys[%d]: %s" % (i, e))
            continue
        if key_id(pk) != k["key_id"]:
            errs.append("keys[%d]: key_id does not match public_key" % i)
            continue
        if k["key_id"] in keys:
            errs.append("keys[%d]: key id %s appears twice" % (i, k["key_id"]))
            continue
        keys[k["key_id"]] = pk
    rep.set("key_id", errs)
    listed = {}                  # key id -> first keys[] entry with that key_id (whether or not it passed)
    for k in doc["keys"]:
        listed.setdefault(k["key_id"], k)

    # 5. envelope_format
    records = doc["records"]
    errs, seen, fmt_ok = [], set(), []
    for r in records:
        e = envelope_errors(r["envelope"])
        errs.extend("record index %d: %s" % (r["index"], x) for x in e)
        fmt_ok.append(not e)
        if r["index"] in seen:
            errs.append("index %d appears twice" % r["index"])
        seen.add(r["index"])
    rep.set("envelope_format", errs)
    good = [r for r, ok in zip(records, fmt_ok) if ok]
    bad_fmt = ["record index %d: envelope_format failed" % r["index"] for r, ok in zip(records, fmt_ok) if not ok]

    # 6. signer_key
    errs = ["record index %d: signer %s is not one of the bundle's keys" % (r["index"], r["envelope"]["signer"])
            for r in good if r["envelope"]["signer"] not in listed]
    finish("signer_key", errs, bad_fmt)

    # 7. signature
    errs, skipped = [], list(bad_fmt)
    for r in good:
        env = r["envelope"]
        if env["signer"] not in listed:
            skipped.append("record index %d: signer_key failed" % r["index"])
        elif env["signer"] not in keys:
            skipped.append("record index %d: the signer's key failed key_id" % r["index"])
        elif not verify_envelope_signature(env, keys[env["signer"]]):
            errs.append("record index %d: signature does not verify" % r["index"])
    finish("signature", errs, skipped)

    # 8. key_enrollment
    errs, skipped, enrollment = [], [], {}  # enrollment: key id -> enrolling record (passed check 8)
    for i, k in enumerate(doc["keys"]):
        eb = k["enrolled_by"]
        if eb is None:
            errs.append("keys[%d]: enrolled_by is null: v1 bundles must include every signer's enrollment (FORMAT.md 7.1 check 8)" % i)
            continue
        found = [(r, ok) for r, ok in zip(records, fmt_ok) if r["envelope"].get("id") == eb]
        if len(found) != 1:
            errs.append("keys[%d]: enrolled_by %r matches %d records (need exactly one)" % (i, eb, len(found)))
            continue
        r, ok = found[0]
        if not ok:
            skipped.append("keys[%d]: enrollment record (index %d) failed envelope_format" % (i, r["index"]))
            continue
        env = r["envelope"]
        if env["kind"] != ENROLL_KIND:
            errs.append("keys[%d]: record %r (index %d) is of kind %s, not %s"
                        % (i, eb, r["index"], env["kind"], ENROLL_KIND))
            continue
        if env["payload"]["key_id"] != k["key_id"] or env["payload"]["public_key"] != k["public_key"]:
            errs.append("keys[%d]: enrollment record %r names a different key" % (i, eb))
            continue
        enrollment.setdefault(k["key_id"], r)
        if env["signer"] == k["key_id"]:
            rep.notes.append("key %s is a root of trust (enrolled by a record it signed itself)" % k["key_id"])
    finish("key_enrollment", errs, skipped)

    # 9. key_validity: records whose signer's key names an enrollment that passed check 8
    errs = []
    for r in good:
        env = r["envelope"]
        en = enrollment.get(env["signer"])
        if en is None:
            continue
        if en["index"] > r["index"]:
            errs.append("record index %d: precedes its key's enrollment (index %d)" % (r["index"], en["index"]))
        p = en["envelope"]["payload"]
        t = parse_rfc3339(env["occurred_at"])
        if t < parse_rfc3339(p["valid_from"]) or (p["valid_until"] is not None
                                                   and t >= parse_rfc3339(p["valid_until"])):
            errs.append("record index %d: occurred_at %s outside [valid_from, valid_until) = [%s, %s)"
                        % (r["index"], env["occurred_at"], p["valid_from"], p["valid_until"]))
    finish("key_validity", errs, bad_fmt)

    # 10. inclusion
    if cp is None:
        rep.skip("inclusion", ["no verified checkpoint (checkpoint_signature failed or did not run)"])
    else:
        errs = []
        for r in records:
            try:
                proof = [b64decode_strict(h, 32) for h in r["inclusion"]]
            except FormatError as e:
                errs.append("record index %d: %s" % (r["index"], e))
                continue
            if not verify_inclusion(r["index"], cp.size, leaf_hash(r["envelope"]), proof, cp.root):
                errs.append("record index %d: inclusion proof does not verify against the checkpoint "
                            "(size %d)" % (r["index"], cp.size))
        rep.set("inclusion", errs)

    # 11. signer_chain
    errs, by_seq = [], {}
    for r in good:
        env = r["envelope"]
        key = (env["signer"], env["seq"])
        prior = by_seq.get(key)
        if prior is not None and canonical(prior["envelope"]) != canonical(env):
            errs.append("signer %s seq %d: two different records (equivocation) at indexes %d and %d"
                        % (env["signer"], env["seq"], prior["index"], r["index"]))
        by_seq.setdefault(key, r)
    for (signer, seq), r in sorted(by_seq.items()):
        before = by_seq.get((signer, seq - 1))
        if before is not None and r["envelope"]["prev"] != leaf_hash(before["envelope"]).hex():
            errs.append("signer %s seq %d (index %d): prev is not the leaf hash of seq %d (index %d)"
                        % (signer, seq, r["index"], seq - 1, before["index"]))
    finish("signer_chain", errs, bad_fmt)

    # 12. consistency
    c = doc["consistency"]
    if c is None:
        rep.set("consistency", [])
        rep.notes.append("no consistency proof in the bundle")
    elif cp is None:
        rep.skip("consistency", ["no verified bundle checkpoint (checkpoint_signature failed or did not run)"])
    else:
        try:
            newer = verify_checkpoint_note(c["checkpoint"], lk)
            hashes = [b64decode_strict(h, 32) for h in c["hashes"]]
            if verify_consistency(cp.size, newer.size, cp.root, newer.root, hashes):
                rep.set("consistency", [])
            elif newer.size == cp.size:
                rep.set("consistency", ["newer checkpoint has the same size %d: needs an empty proof (got %d "
                                        "hashes) and an equal root" % (cp.size, len(hashes))])
            else:
                rep.set("consistency", ["consistency proof from size %d to %d does not verify"
                                        % (cp.size, newer.size)])
        except FormatError as e:
            rep.set("consistency", ["newer checkpoint: %s" % e])

    if any(r["envelope"]["kind"] == REVOKE_KIND for r in good):
        rep.notes.append("the bundle holds a %s record; bundles of this version carry none and it is not "
                         "interpreted (section 4)" % REVOKE_KIND)
    rep.chains = enrollment_chains(doc, enrollment)
    rep.record_signers = [(r["index"], r["envelope"]["signer"]) for r in good]
    return rep


def enrollment_chains(doc, enrollment):
    """Section 7.2: for every key of the bundle, the chain key -> enrolling key -> ... .

    Each chain is a dict: `key_id`, `chain` (list of {key_id, role, enrolled_by}) from the
    key upwards, and `end`: "root" (the last key enrolled itself), "unenrolled" (the last
    key has enrolled_by null: trust from elsewhere), "broken" (the last key's enrollment
    did not pass check 8, or its enrolling key is not in the bundle) or "cycle".
    `enrollment` maps key ids to enrolling records that passed check 8.
    """
    listed = {}
    for k in doc["keys"]:
        listed.setdefault(k["key_id"], k)
    out = []
    for k in doc["keys"]:
        chain, seen, cur, end = [], set(), k["key_id"], None
        while end is None:
            entry = listed.get(cur)
            if entry is None:
                end = "broken"
                break
            seen.add(cur)
            en = enrollment.get(cur)
            link = {"key_id": cur, "role": en["envelope"]["payload"]["role"] if en else None,
                    "enrolled_by": entry["enrolled_by"]}
            chain.append(link)
            if entry["enrolled_by"] is None:
                end = "unenrolled"
            elif en is None:
                end = "broken"
            else:
                link["enrollment_index"] = en["index"]
                nxt = en["envelope"]["signer"]
                if nxt == cur:
                    end = "root"
                elif nxt in seen:
                    end = "cycle"
                else:
                    cur = nxt
        out.append({"key_id": k["key_id"], "chain": chain, "end": end})
    return out


def pinned_root_errors(rep, roots):
    """Optional policy of section 7.2 (not one of the 7.1 checks): every record's signer must have an
    enrollment chain that ends at one of the pinned root key ids (a self-enrolled key, or a key with
    enrolled_by null whose trust comes from the pin itself)."""
    chains = {c["key_id"]: c for c in rep.chains}
    errs = []
    for index, signer in rep.record_signers:
        c = chains.get(signer)
        if c is None:
            errs.append("record index %d: signer %s has no key entry" % (index, signer))
        elif c["end"] not in ("root", "unenrolled") or c["chain"][-1]["key_id"] not in roots:
            errs.append("record index %d: enrollment chain of %s ends at %s (%s), not at a pinned root"
                        % (index, signer, c["chain"][-1]["key_id"] if c["chain"] else "?", c["end"]))
    return errs


# ---------------------------------------------------------------------------
# CLI

def _format_chain(c):
    parts = ["%s%s" % (l["key_id"][:16], " (%s)" % l["role"] if l["role"] else "") for l in c["chain"]]
    return ", enrolled by ".join(parts) + "  [%s]" % c["end"]


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description="Verify a SiteLedger evidence bundle (format v1).")
    ap.add_argument("bundle", help="path to the evidence bundle file")
    ap.add_argument("--log-key", required=True, help="trusted log key string <name>+<id>+<key>")
    ap.add_argument("--root", action="append", default=[], metavar="KEY_ID",
                    help="pinned root key id (section 7.2); repeatable. If given, every record's signer must "
                         "have an enrollment chain ending at one of them")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    ap.add_argument("--attachments", metavar="DIR", help="attachments directory of an evidence package (7.3)")
    args = ap.parse_args(argv)
    try:
        with open(args.bundle, "rb") as f:
            data = f.read()
        files = None
        if args.attachments is not None:
            import os
            files = {}
            for n in os.listdir(args.attachments):
                with open(os.path.join(args.attachments, n), "rb") as f:
                    files[n] = f.read()
    except OSError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    rep = verify_package(data, args.log_key, files)
    pin_errs = pinned_root_errors(rep, set(args.root)) if args.root and rep.valid else None
    ok = rep.valid and not pin_errs
    if args.json:
        out = rep.to_json()
        if pin_errs is not None:
            out["pinned_roots"] = {"roots": args.root, "ok": not pin_errs, "errors": pin_errs}
        out["valid"] = ok
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        for n in CHECKS + ATTACHMENT_CHECKS:
            if n in rep.results:
                good, msgs = rep.results[n]
                print("%s %s" % ("PASS" if good else "FAIL", n))
                for m in msgs:
                    print("     - %s" % m)
        if rep.not_run:
            print("not run (an earlier check failed): %s" % ", ".join(n for n in CHECKS if n in rep.not_run))
        for c in rep.chains:
            print("chain: %s" % _format_chain(c))
        for m in rep.notes:
            print("note: %s" % m)
        if pin_errs is not None:
            print("%s pinned roots (%s)" % ("PASS" if not pin_errs else "FAIL", ", ".join(args.root)))
            for m in pin_errs:
                print("     - %s" % m)
        print("VALID" if ok else "INVALID (failed: %s)" % ", ".join(rep.failed() + (["pinned roots"] if pin_errs else [])))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
