#!/usr/bin/env python3
"""Run every SiteLedger v1 test vector through the independent verifier (verify.py).

Usage: python3 check_vectors.py [--all-bytes] [-v]

  --all-bytes  flip every byte of the bundle (not just every 7th) in the mutation test
  -v           print every passing check, not just failures and notes

The last line is exactly "N passed, 0 failed" when everything passes; exit status 0
only then.
"""

import copy
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep the source tree clean
import verify as V  # noqa: E402

VECTORS = os.path.join(HERE, "..", "vectors")
VERBOSE = "-v" in sys.argv
ALL_BYTES = "--all-bytes" in sys.argv

passed, failed, notes = 0, [], []


def check(name, fn):
    """Record one check. fn is a bool or a callable returning bool (exceptions count as failure)."""
    global passed
    try:
        ok = fn() if callable(fn) else fn
        err = None
    except Exception as e:  # noqa: BLE001
        ok, err = False, "%s: %s" % (type(e).__name__, e)
    if ok is True:
        passed += 1
        if VERBOSE:
            print("ok   %s" % name)
    else:
        failed.append(name)
        print("FAIL %s%s" % (name, "" if err is None else "  (%s)" % err))


def note(msg):
    notes.append(msg)
    print("note %s" % msg)


def raises(fn, exc=V.FormatError):
    try:
        fn()
    except exc:
        return True
    return False


# ---------------------------------------------------------------------------
# Ed25519 signing (test-only: reproduces the deterministic vector signatures)

def _clamp(h):
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a


def ed_public(seed):
    return V.pt_encode(V.pt_mul(_clamp(hashlib.sha512(seed).digest()), V.BASE))


def ed_sign(seed, msg):
    h = hashlib.sha512(seed).digest()
    a, prefix = _clamp(h), h[32:]
    pk = V.pt_encode(V.pt_mul(a, V.BASE))
    r = int.from_bytes(hashlib.sha512(prefix + msg).digest(), "little") % V.L
    rb = V.pt_encode(V.pt_mul(r, V.BASE))
    k = int.from_bytes(hashlib.sha512(rb + pk + msg).digest(), "little") % V.L
    return rb + ((r + k * a) % V.L).to_bytes(32, "little")


def ed_secret_scalar(seed):
    return _clamp(hashlib.sha512(seed).digest())


# ---------------------------------------------------------------------------
# Load vectors

with open(os.path.join(VECTORS, "v1.json"), "rb") as f:
    RAW_V1 = f.read()
VEC = V.parse_strict(RAW_V1)
check("v1.json parses as strict JSON (section 2 input rules)", True)
check("v1.json format_version is 1", VEC["format_version"] == 1)

# ---------------------------------------------------------------------------
# 1. Canonical JSON

for i, case in enumerate(VEC["canonical_json"]):
    exp = case["canonical"].encode("utf-8")
    check("canonical_json[%d]: canonical(parse(input)) == canonical" % i,
          lambda: V.canonical(V.parse_strict(case["input"].encode("utf-8"))) == exp)
    check("canonical_json[%d]: canonical form is a fixed point" % i,
          lambda: V.canonical(V.parse_strict(exp)) == exp)

for i, text in enumerate(VEC["rejected_json"]):
    check("rejected_json[%d] rejected: %s" % (i, text),
          lambda: raises(lambda: V.parse_strict(text.encode("utf-8"))))

# Extra input-rule cases derived from section 2 (not in the vectors).
EXTRA_REJECT = [
    (b'{"a":NaN}', "NaN"), (b'{"a":Infinity}', "Infinity"), (b'{"a":-Infinity}', "-Infinity"),
    (b'{"a":-9007199254740992}', "-(2^53)"), (b'{"a":1E3}', "exponent E"), (b'{"a":-0.0}', "-0.0"),
    (b'{"a":"\\ud800"}', "lone surrogate escape"), (b'\xef\xbb\xbf{"a":1}', "UTF-8 BOM"),
    (b'{"a":"\xff"}', "invalid UTF-8"), (b'{"a":"\xed\xa0\x80"}', "UTF-8-encoded surrogate"),
    (b'{"a":01}', "leading zero"), (b'{"a":1,}', "trailing comma"), (b'{"a":"\x01"}', "raw control char"),
    (b'{"x":{"b":1,"b":2}}', "nested duplicate"), (b'[' * 100000 + b']' * 100000, "deep nesting"),
    (b'{"a":1} x', "trailing garbage"), (b'"a" "b"', "two values"),
    (b'{"\\udc00":1}', "lone low surrogate in a member name"), (b'["\\ude00\\ud83d"]', "surrogates in the wrong order"),
    (b'["\\ud83d x"]', "high surrogate followed by a non-surrogate"), (b'\xef\xbb\xbf', "BOM alone"),
    (b'{"a":1}\xef\xbb\xbf', "BOM after the value"), (b'\xfe\xff\x00{', "UTF-16 BOM"),
]
for data, what in EXTRA_REJECT:
    check("extra rejected_json: %s" % what, lambda: raises(lambda: V.parse_strict(data)))
EXTRA_CANON = [
    (b'{"a":-0}', b'{"a":0}'),
    (b'"\\u0000\\u007F\\/\\u2028\\u00e9"', '"\\u0000\x7f/\u2028\u00e9"'.encode("utf-8")),
    (b'"\\b\\f\\n\\r\\t\\u000b"', b'"\\b\\f\\n\\r\\t\\u000b"'),
    (b'{"\\ud83d\\ude00":1,"\\uffff":2}', '{"\U0001f600":1,"\uffff":2}'.encode("utf-8")),
    (b'["\\ud83d\\ude00"]', '["\U0001f600"]'.encode("utf-8")),   # an escaped surrogate *pair* is fine
    (b'{"a":"\\ufeff"}', '{"a":"\ufeff"}'.encode("utf-8")),     # U+FEFF inside a string is not a BOM
]
for data, exp in EXTRA_CANON:
    check("extra canonical: %r" % data, lambda: V.canonical(V.parse_strict(data)) == exp)

# ---------------------------------------------------------------------------
# 2. Keys

KEYS = {}
for k in VEC["keys"]:
    seed = V.hexdecode_strict(k["seed"], 32)
    pk = V.b64decode_strict(k["public_key"], 32)
    KEYS[k["key_id"]] = (seed, pk)
    check("key %s: public key derived from seed" % k["role"], ed_public(seed) == pk)
    check("key %s: key id = SHA-256(0x01||pk)[:16]" % k["role"], V.key_id(pk) == k["key_id"])
    check("key %s: public key acceptable (section 3)" % k["role"], lambda: V.decode_public_key(pk) is not None)

# ---------------------------------------------------------------------------
# 3. Envelopes

LEAF = {}        # index -> leaf hash (recomputed from envelope objects)
ENV_BY_INDEX = {}
for e in VEC["envelopes"]:
    env, idx = e["envelope"], e["index"]
    ENV_BY_INDEX[idx] = env
    tag = "envelope[%d]" % idx
    check(tag + ": envelope_format (section 4)", lambda: V.envelope_errors(env) == [])
    check(tag + ": signed message bytes", lambda: V.envelope_signed_message(env) == V.hexdecode_strict(e["signed_message"]))
    check(tag + ": signature field equals envelope sig", e["signature"] == env["sig"])
    seed, pk = KEYS[env["signer"]]
    check(tag + ": signature verifies (cofactored, strict)", lambda: V.verify_envelope_signature(env, pk))
    check(tag + ": re-signing with the seed reproduces the signature",
          lambda: V.b64encode(ed_sign(seed, V.envelope_signed_message(env))) == e["signature"])
    check(tag + ": leaf bytes = canonical(envelope)", lambda: V.leaf_bytes(env) == V.hexdecode_strict(e["leaf"]))
    lh = V.leaf_hash(env)
    LEAF[idx] = lh
    check(tag + ": leaf hash", lh.hex() == e["leaf_hash"])
    check(tag + ": canonical size <= 65536", len(V.canonical(env)) <= V.MAX_ENVELOPE)
    # negative: change one character of the payload
    bad = copy.deepcopy(env)
    pkey = sorted(bad["payload"])[-1]
    s = bad["payload"][pkey]
    bad["payload"][pkey] = ("X" if s[:1] != "X" else "Y") + s[1:]
    check(tag + ": NEGATIVE payload %s changed -> signature fails" % pkey,
          lambda: not V.verify_envelope_signature(bad, pk))
    bad2 = copy.deepcopy(env)
    bad2["seq"] += 1
    if bad2["prev"] is None:
        bad2["prev"] = "00" * 32
    check(tag + ": NEGATIVE seq changed -> signature fails", lambda: not V.verify_envelope_signature(bad2, pk))
    if env["kind"] == V.ENROLL_KIND:
        p = env["payload"]
        check(tag + ": enrollment payload key_id matches public_key",
              V.key_id(V.b64decode_strict(p["public_key"], 32)) == p["key_id"] and p["key_id"] in KEYS)

# prev chain among the envelopes in the vectors
for idx, env in sorted(ENV_BY_INDEX.items()):
    if env["seq"] > 1:
        before = [j for j, o in ENV_BY_INDEX.items() if o["signer"] == env["signer"] and o["seq"] == env["seq"] - 1]
        if before:
            check("envelope[%d]: prev = leaf hash of envelope[%d]" % (idx, before[0]),
                  env["prev"] == LEAF[before[0]].hex())

# Envelope-format negatives (our reading of section 4)
BASE_ENV = ENV_BY_INDEX[3]
ENV_MUTATIONS = [
    ("v=2", "v", 2), ("v=true", "v", True), ("id UUIDv4", "id", "01a1ee56-69b8-4000-8000-000000000003"),
    ("id uppercase", "id", "01A1EE56-69B8-7000-8000-000000000003"), ("id variant 110x (c)", "id", "01a1ee56-69b8-7000-c000-000000000003"),
    ("id variant 0xxx (7)", "id", "01a1ee56-69b8-7000-7000-000000000003"), ("id variant 0xxx (0)", "id", "01a1ee56-69b8-7000-0000-000000000003"),
    ("id variant 111x (f)", "id", "01a1ee56-69b8-7000-f000-000000000003"), ("id variant uppercase B", "id", "01a1ee56-69b8-7000-B000-000000000003"),
    ("id version 8", "id", "01a1ee56-69b8-8000-8000-000000000003"), ("id without hyphens", "id", "01a1ee5669b870008000000000000003"),
    ("id with braces", "id", "{01a1ee56-69b8-7000-8000-000000000003}"),
    ("occurred_at lowercase z", "occurred_at", "2026-03-01T00:00:00z"), ("occurred_at year 10000", "occurred_at", "10000-03-01T08:00:00+08:00"),
    ("occurred_at offset +24:00", "occurred_at", "2026-03-01T08:00:00+24:00"), ("occurred_at empty fraction", "occurred_at", "2026-03-01T08:00:00.+08:00"),
    ("stream leading '-'", "stream", "-x"), ("stream 201 chars", "stream", "a" * 201), ("stream empty", "stream", ""),
    ("stream bad char", "stream", "a b"), ("stream trailing newline", "stream", "ab\n"),
    ("kind one segment", "kind", "v1"), ("kind uppercase V", "kind", "iot.V1"), ("kind leading zero", "kind", "iot.v01"),
    ("kind 7 digits", "kind", "iot.v1000000"), ("kind 101 chars", "kind", "a" * 98 + ".v1"), ("kind bad segment", "kind", "Iot.v1"),
    ("occurred_at no offset", "occurred_at", "2026-03-01T08:00:00"), ("occurred_at year 1999", "occurred_at", "1999-03-01T08:00:00+08:00"),
    ("occurred_at Feb 30", "occurred_at", "2026-02-30T08:00:00+08:00"), ("occurred_at hour 24", "occurred_at", "2026-03-01T24:00:00+08:00"),
    ("occurred_at space", "occurred_at", "2026-03-01 08:00:00+08:00"), ("occurred_at offset 0800", "occurred_at", "2026-03-01T08:00:00+0800"),
    ("occurred_at Arabic-Indic digits", "occurred_at", "\u0662\u0660\u0662\u0666-03-01T08:00:00+08:00"),
    ("occurred_at lowercase t", "occurred_at", "2026-03-01t08:00:00+08:00"),
    ("occurred_at leap second", "occurred_at", "2026-12-31T23:59:60Z"),
    ("occurred_at 10 fraction digits", "occurred_at", "2026-03-01T08:00:00.1234567890+08:00"),
    ("signer uppercase", "signer", "319D5459E31FB14975CD3624C69EFA8E"), ("signer short", "signer", "319d5459"),
    ("seq 0", "seq", 0), ("seq true", "seq", True), ("seq 2^53", "seq", 2 ** 53), ("seq string", "seq", "1"),
    ("prev set with seq 1", "prev", "00" * 32), ("payload array", "payload", []), ("sig 63 bytes", "sig", V.b64encode(b"\0" * 63)),
    ("sig unpadded", "sig", BASE_ENV["sig"].rstrip("=")),
]
for what, member, value in ENV_MUTATIONS:
    bad = copy.deepcopy(BASE_ENV)
    bad[member] = value
    check("NEGATIVE envelope_format rejects %s" % what, lambda: V.envelope_errors(bad) != [])
bad = copy.deepcopy(BASE_ENV); bad["extra"] = 1
check("NEGATIVE envelope_format rejects an unknown member", V.envelope_errors(bad) != [])
bad = copy.deepcopy(BASE_ENV); del bad["prev"]
check("NEGATIVE envelope_format rejects a missing member", V.envelope_errors(bad) != [])
bad = copy.deepcopy(ENV_BY_INDEX[4]); bad["prev"] = None
check("NEGATIVE envelope_format rejects prev null with seq 2", V.envelope_errors(bad) != [])
bad = copy.deepcopy(BASE_ENV); bad["payload"] = {"blob": "x" * 70000}
check("NEGATIVE envelope_format rejects canonical size > 65536", V.envelope_errors(bad) != [])
bad = copy.deepcopy(ENV_BY_INDEX[0]); bad["payload"]["extra"] = "x"
check("NEGATIVE enrollment payload with an unknown member", V.envelope_errors(bad) != [])
bad = copy.deepcopy(ENV_BY_INDEX[0]); bad["payload"]["valid_until"] = bad["payload"]["valid_from"]
check("NEGATIVE enrollment payload with valid_until == valid_from", V.envelope_errors(bad) != [])
bad = copy.deepcopy(ENV_BY_INDEX[0]); bad["payload"]["key_id"] = ENV_BY_INDEX[1]["payload"]["key_id"]
check("NEGATIVE enrollment payload whose key_id does not match public_key", V.envelope_errors(bad) != [])
for v in "89ab":
    good = copy.deepcopy(BASE_ENV); good["id"] = "01a1ee56-69b8-7000-%s000-000000000003" % v
    check("envelope_format accepts the RFC 9562 variant digit %s" % v, V.envelope_errors(good) == [])
for what, member, value in [("valid_from year 1999", "valid_from", "1999-12-31T23:59:59Z"),
                            ("valid_from without offset", "valid_from", "2026-01-01T00:00:00"),
                            ("valid_until lowercase t", "valid_until", "2027-01-01t00:00:00Z"),
                            ("valid_until before valid_from as an instant", "valid_until", "2025-12-31T15:59:59Z"),
                            ("valid_until equal to valid_from as an instant", "valid_until", "2025-12-31T16:00:00Z"),
                            ("valid_until a number", "valid_until", 0)]:
    bad = copy.deepcopy(ENV_BY_INDEX[0]); bad["payload"][member] = value
    check("NEGATIVE enrollment payload with %s (same rules as occurred_at)" % what, V.envelope_errors(bad) != [])
good = copy.deepcopy(ENV_BY_INDEX[0]); good["payload"]["valid_until"] = "2025-12-31T16:00:00.001Z"
check("enrollment payload: valid_until 1 ms after valid_from (other offset) accepted", V.envelope_errors(good) == [])
good = copy.deepcopy(BASE_ENV); good["kind"] = "a" * 97 + ".v1"
check("envelope_format accepts a 100-character kind", V.envelope_errors(good) == [])
good = copy.deepcopy(BASE_ENV); good["occurred_at"] = "2026-03-01T00:00:00.123456Z"; good["kind"] = "a.b_c.d9.v123456"
check("envelope_format accepts fractional seconds, Z offset and a 6-digit kind version", V.envelope_errors(good) == [])

# Envelope inputs (section 2 input rules and section 4): texts that must be rejected, each breaking one rule and
# otherwise correctly signed, and texts that must be accepted with the leaf and instant they give.
PK_BY_KID = {kid: pk for kid, (_, pk) in KEYS.items()}
EI = VEC["envelope_inputs"]
check("envelope_inputs: must_reject present", len(EI["must_reject"]) >= 30)
for c in EI["must_reject"]:
    err, data = c["error"], c["input"].encode("utf-8")
    def judge(err=err, data=data):
        try:
            env = V.parse_strict(data)
        except V.FormatError as e:
            msg = str(e)
            return {"duplicate_member": "duplicate member name %r" % err.get("member"),
                    "number": "number", "lone_surrogate": "surrogate",
                    "syntax": "byte-order mark"}.get(err["kind"], "\0") in msg
        errs = V.envelope_errors(env)
        if err["kind"] != "date_time":
            return False
        want = "occurred_at" if err["member"] == "occurred_at" else "validity"
        # exactly the time rule is broken: the signature is good
        return (any(x.startswith(want) or ("payload: " + want) in x for x in errs)
                and V.verify_envelope_signature(env, PK_BY_KID[env["signer"]]))
    check("envelope_inputs.must_reject %s: rejected for %s %s" % (c["name"], err["kind"], err.get("member", err.get("at", ""))), judge)
for c in EI["must_accept"]:
    def judge_ok(c=c):
        env = V.parse_strict(c["input"].encode("utf-8"))
        return (V.envelope_errors(env) == [] and V.canonical(env) == c["leaf"].encode("utf-8")
                and V.leaf_hash(env).hex() == c["leaf_hash"]
                and V.verify_envelope_signature(env, PK_BY_KID[env["signer"]])
                and V.parse_rfc3339(env["occurred_at"]) * 10 ** 9 == int(c["occurred_unix_ns"]))
    check("envelope_inputs.must_accept %s: leaf, leaf hash, signature and instant" % c["name"], judge_ok)

# Reserved ledger kinds (section 4): well-formed, correctly signed envelopes a log must refuse.
LMR = VEC["log_must_refuse"]
LEDGER_KINDS = {V.ENROLL_KIND, V.REVOKE_KIND, "ledger.signer.gap.v1", "ledger.signer.equivocation.v1"}
check("log_must_refuse: system key is the signer of the log's first record",
      LMR["system_key_id"] == ENV_BY_INDEX[0]["signer"] == ENV_BY_INDEX[0]["payload"]["key_id"])
check("log_must_refuse: cases present", len(LMR["cases"]) >= 3)
for c in LMR["cases"]:
    env = c["envelope"]
    tag = "log_must_refuse %s" % c["name"]
    check(tag + ": well-formed (section 4)", lambda: V.envelope_errors(env) == [])
    check(tag + ": signature verifies", lambda: V.verify_envelope_signature(env, PK_BY_KID[env["signer"]]))
    check(tag + ": leaf hash", lambda: V.leaf_hash(env).hex() == c["leaf_hash"])
    last = max((i for i, e in ENV_BY_INDEX.items() if e["signer"] == env["signer"]), default=None)
    check(tag + ": continues its signer's chain after envelopes[]",
          last is not None and env["seq"] == ENV_BY_INDEX[last]["seq"] + 1 and env["prev"] == LEAF[last].hex())
    check(tag + ": refused by the reserved-kind rule (unknown ledger. kind, or a notice not by the system key)",
          env["kind"].startswith("ledger.") and (env["kind"] not in LEDGER_KINDS or (
              env["kind"] in ("ledger.signer.gap.v1", "ledger.signer.equivocation.v1")
              and env["signer"] != LMR["system_key_id"])))

# ---------------------------------------------------------------------------
# 4. Merkle tree: roots, inclusion and consistency proofs, all recomputed from the leaves

ROOTS = {r["size"]: V.hexdecode_strict(r["root"], 32) for r in VEC["tree"]["roots"]}
N = VEC["tree"]["leaf_count"]
check("tree: roots given for every size 0..leaf_count", sorted(ROOTS) == list(range(N + 1)))
check("tree: root of size 0 is SHA-256(\"\")", ROOTS[0] == hashlib.sha256(b"").digest())
check("envelopes: every log entry 0..leaf_count-1 present exactly once (section 8)",
      sorted(e["index"] for e in VEC["envelopes"]) == list(range(N)))
LH = [LEAF[i] for i in range(N)]  # leaf hashes recomputed from the envelope objects

for n in range(N + 1):
    check("root of size %d recomputed from the envelopes' leaf hashes" % n, V.mth(LH[:n]) == ROOTS[n])

for j, ip in enumerate(VEC["inclusion_proofs"]):
    idx, size = ip["index"], ip["size"]
    lh = V.hexdecode_strict(ip["leaf_hash"], 32)
    proof = [V.hexdecode_strict(h, 32) for h in ip["proof"]]
    tag = "inclusion_proofs[%d] (index %d, size %d)" % (j, idx, size)
    check(tag + ": leaf_hash matches envelope", lh == LEAF[idx])
    check(tag + ": RFC 9162 2.1.3.2 verification", V.verify_inclusion(idx, size, lh, proof, ROOTS[size]))
    check(tag + ": recomputed from the envelopes (RFC 9162 2.1.3.1)", V.inclusion_proof(idx, LH[:size]) == proof)
    if proof:
        bad = list(proof); bad[-1] = bytes([bad[-1][0] ^ 1]) + bad[-1][1:]
        check(tag + ": NEGATIVE altered proof hash rejected", not V.verify_inclusion(idx, size, lh, bad, ROOTS[size]))
        check(tag + ": NEGATIVE truncated proof rejected", not V.verify_inclusion(idx, size, lh, proof[:-1], ROOTS[size]))
        check(tag + ": NEGATIVE extended proof rejected", not V.verify_inclusion(idx, size, lh, proof + [lh], ROOTS[size]))
    check(tag + ": NEGATIVE wrong index rejected", not V.verify_inclusion(idx ^ 1, size, lh, proof, ROOTS[size]))
    check(tag + ": NEGATIVE index = size rejected", not V.verify_inclusion(size, size, lh, proof, ROOTS[size]))

for j, cpf in enumerate(VEC["consistency_proofs"]):
    m, n = cpf["old_size"], cpf["new_size"]
    proof = [V.hexdecode_strict(h, 32) for h in cpf["proof"]]
    tag = "consistency_proofs[%d] (%d -> %d)" % (j, m, n)
    check(tag + ": RFC 9162 2.1.4.2 verification", V.verify_consistency(m, n, ROOTS[m], ROOTS[n], proof))
    check(tag + ": recomputed from the envelopes (RFC 9162 2.1.4.1)", V.consistency_proof(m, LH[:n]) == proof)
    if m != n:
        check(tag + ": NEGATIVE wrong old root rejected", not V.verify_consistency(m, n, ROOTS[m - 1] if m > 1 else ROOTS[2], ROOTS[n], proof))
        check(tag + ": NEGATIVE wrong new root rejected", not V.verify_consistency(m, n, ROOTS[m], ROOTS[n - 1], proof))
        check(tag + ": NEGATIVE truncated proof rejected", not V.verify_consistency(m, n, ROOTS[m], ROOTS[n], proof[:-1]))
    else:
        check(tag + ": NEGATIVE m = n with different roots rejected", not V.verify_consistency(m, n, ROOTS[m - 1], ROOTS[n], proof))
        check(tag + ": NEGATIVE m = n with a non-empty proof rejected", not V.verify_consistency(m, n, ROOTS[m], ROOTS[n], [ROOTS[m]]))

# Every proof the full log determines: generate (RFC 9162 generation) + verify (RFC 9162 verification).
def _all_consistency():
    for n in range(1, N + 1):
        for m in range(0, n + 1):
            if not V.verify_consistency(m, n, ROOTS[m], ROOTS[n], V.consistency_proof(m, LH[:n])):
                return False
    return True
check("generated consistency proofs for all 0 <= m <= n <= %d verify against the vector roots" % N, _all_consistency)
def _all_inclusion():
    for n in range(1, N + 1):
        for i in range(n):
            if not V.verify_inclusion(i, n, LH[i], V.inclusion_proof(i, LH[:n]), ROOTS[n]):
                return False
    return True
check("generated inclusion proofs for all 0 <= i < n <= %d verify against the vector roots" % N, _all_inclusion)

BUNDLE_PATH = os.path.join(VECTORS, VEC["bundle"]["file"])
with open(BUNDLE_PATH, "rb") as f:
    BUNDLE_BYTES = f.read()
BUNDLE = V.parse_strict(BUNDLE_BYTES)
BCP = BUNDLE["checkpoint"].split("\n")
BNEW = BUNDLE["consistency"]["checkpoint"].split("\n")

# ---------------------------------------------------------------------------
# 5. Checkpoint and log key

CP = VEC["checkpoint"]
log_seed = V.hexdecode_strict(CP["log_seed"], 32)
log_pk = ed_public(log_seed)
origin = CP["note"].split("\n", 1)[0]
check("checkpoint: log key string = name+hex(note key id)+base64(0x01||pk)", V.log_key_string(origin, log_pk) == CP["log_key"])
LK = V.parse_log_key(CP["log_key"])
check("checkpoint: parse_log_key round trip", LK.name == origin and LK.public_key == log_pk)
check("checkpoint: note key id = SHA-256(name||0x0A||0x01||pk)[:4]",
      LK.key_id == hashlib.sha256(origin.encode() + b"\n\x01" + log_pk).digest()[:4])
cpobj = None
def _cp():
    global cpobj
    cpobj = V.verify_checkpoint_note(CP["note"], LK)
    return True
check("checkpoint: signed note verifies under the log key", _cp)
check("checkpoint: size and root match the vector", lambda: cpobj.size == CP["size"] and cpobj.root.hex() == CP["root"])
check("checkpoint: root equals tree root of that size", lambda: cpobj.root == ROOTS[CP["size"]])
text = CP["note"][:CP["note"].index("\n\n") + 1]
sigline = CP["note"][len(text) + 1:]
check("checkpoint: re-signing the text with log_seed reproduces the signature line",
      sigline == "\u2014 %s %s\n" % (origin, V.b64encode(LK.key_id + ed_sign(log_seed, text.encode()))))
check("checkpoint: signature line starts with e2 80 94 20", sigline.encode()[:4] == b"\xe2\x80\x94 ")
NEG_NOTES = [
    ("size changed", CP["note"].replace("\n16\n", "\n15\n", 1)),
    ("origin changed", CP["note"].replace("ningbo", "ningbO", 1)),
    ("missing empty line", CP["note"].replace("\n\n", "\n", 1)),
    ("no trailing newline", CP["note"][:-1]),
    ("ASCII hyphen instead of em dash", CP["note"].replace("\u2014", "-")),
    ("extra witness signature line", CP["note"] + "\u2014 witness.example %s\n" % V.b64encode(b"\x01\x02\x03\x04" + b"\0" * 64)),
    ("second log-key line with bad signature", CP["note"] + sigline[:-6] + "AAAAA=\n"),
    ("empty extension line", CP["note"].replace("=\n\n", "=\n\n\n", 1)),
    ("leading zero in size", CP["note"].replace("\n16\n", "\n016\n", 1)),
]
for what, n_ in NEG_NOTES:
    check("checkpoint: NEGATIVE %s rejected" % what, lambda: raises(lambda: V.verify_checkpoint_note(n_, LK)))
other_lk = V.parse_log_key(V.log_key_string(origin, ed_public(b"\x11" * 32)))
check("checkpoint: NEGATIVE note rejected under a different key of the same name",
      raises(lambda: V.verify_checkpoint_note(CP["note"], other_lk)))
ext_text = text + "extension line\n"
ext_note = ext_text + "\n" + "\u2014 %s %s\n" % (origin, V.b64encode(LK.key_id + ed_sign(log_seed, ext_text.encode())))
check("checkpoint: a note with an extension line, signed by the log key, verifies",
      lambda: V.verify_checkpoint_note(ext_note, LK).extensions == ["extension line"])
two_sig = CP["note"] + sigline
check("checkpoint: two valid log-key signature lines verify", lambda: V.verify_checkpoint_note(two_sig, LK).size == 16)
for what, s in [("uppercase key id", CP["log_key"].replace("02d43cb0", "02D43CB0")),
                ("wrong key id", CP["log_key"].replace("02d43cb0", "02d43cb1")),
                ("missing part", CP["log_key"].rsplit("+", 1)[0]),
                ("algorithm byte not 0x01", "%s+%s+%s" % (origin, LK.key_id.hex(), V.b64encode(b"\x02" + log_pk)))]:
    check("log key: NEGATIVE %s rejected" % what, lambda: raises(lambda: V.parse_log_key(s)))

# ---------------------------------------------------------------------------
# 6. Ed25519 strictness (section 3)

RFC8032 = [
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
]
for i, (sk, pkh, msg, sig) in enumerate(RFC8032):
    sk, pkh, msg, sig = (bytes.fromhex(x) for x in (sk, pkh, msg, sig))
    check("ed25519: RFC 8032 test %d public key" % (i + 1), ed_public(sk) == pkh)
    check("ed25519: RFC 8032 test %d signature reproduced" % (i + 1), ed_sign(sk, msg) == sig)
    check("ed25519: RFC 8032 test %d verifies" % (i + 1), V.ed25519_verify(pkh, msg, sig))

# The 8 torsion points: [L]P for a point P whose torsion component has order 8.
def _torsion():
    y = 2
    while True:
        x = V._recover_x(y, 0)
        if x is not None:
            q = V.pt_mul(V.L, (x, y, 1, x * y % V.P))
            if not V.pt_equal(V.pt_mul(4, q), V.IDENTITY):
                return [V.pt_mul(i, q) for i in range(8)]
        y += 1
TORSION = _torsion()
check("ed25519: found 8 distinct torsion points", len({V.pt_encode(t) for t in TORSION}) == 8)
for i, t in enumerate(TORSION):
    enc = V.pt_encode(t)
    check("ed25519: NEGATIVE small-order public key #%d (%s...) rejected" % (i, enc.hex()[:8]),
          raises(lambda: V.decode_public_key(enc)))
noncanon = []
for y in range(19):
    for sign in (0, 1):
        enc = ((y + V.P) | (sign << 255)).to_bytes(32, "little")
        noncanon.append(enc)
check("ed25519: NEGATIVE all 38 encodings with y >= p rejected as points",
      all(raises(lambda e=e: V.pt_decode(e)) for e in noncanon))
check("ed25519: NEGATIVE x = 0 with sign bit set rejected",
      raises(lambda: V.pt_decode((1 | (1 << 255)).to_bytes(32, "little"))))

seed, pk = KEYS[VEC["keys"][2]["key_id"]]
a = ed_secret_scalar(seed)
A = V.pt_decode(pk)
msg = b"siteledger strictness test"
good = ed_sign(seed, msg)
check("ed25519: fresh signature verifies", V.ed25519_verify(pk, msg, good))
s_plus_l = good[:32] + (int.from_bytes(good[32:], "little") + V.L).to_bytes(32, "little")
check("ed25519: NEGATIVE S + L (non-canonical S) rejected", not V.ed25519_verify(pk, msg, s_plus_l))
check("ed25519: NEGATIVE S = L rejected", not V.ed25519_verify(pk, msg, good[:32] + V.L.to_bytes(32, "little")))
check("ed25519: NEGATIVE signature with a flipped bit rejected", not V.ed25519_verify(pk, msg, good[:63] + bytes([good[63] ^ 0x01])))
check("ed25519: NEGATIVE 63-byte signature rejected", not V.ed25519_verify(pk, msg, good[:63]))

def craft(rpoint, r_scalar):
    rb = V.pt_encode(rpoint)
    k = int.from_bytes(hashlib.sha512(rb + pk + msg).digest(), "little") % V.L
    return rb + ((r_scalar + k * a) % V.L).to_bytes(32, "little")

# R = small-order point T (discrete log 0 w.r.t. B in the prime-order part): the
# cofactored equation holds, but rule 2 rejects R.
for i in (0, 1, 4):
    sig = craft(TORSION[i], 0)
    check("ed25519: NEGATIVE small-order R (torsion #%d) rejected although [8]-equation holds" % i,
          not V.ed25519_verify(pk, msg, sig))
# R = rB + T (order-8 torsion component): valid under the cofactored equation, invalid cofactorless.
r = 123456789
Rt = V._pt_add(V.pt_mul(r, V.BASE), TORSION[1])
sig = craft(Rt, r)
check("ed25519: R with a small-order component is ACCEPTED (cofactored equation)", V.ed25519_verify(pk, msg, sig))
def _cofactorless(sig):
    rb, s = sig[:32], int.from_bytes(sig[32:], "little")
    k = int.from_bytes(hashlib.sha512(rb + pk + msg).digest(), "little") % V.L
    return V.pt_equal(V.pt_mul(s, V.BASE), V._pt_add(V.pt_decode(rb), V.pt_mul(k, A)))
check("ed25519: ...and the same signature fails the cofactorless equation (as section 3 says)", not _cofactorless(sig))
# Public key with a torsion component is not small order -> acceptable per section 3.
check("ed25519: public key A + T (mixed order) is acceptable per section 3",
      lambda: V.decode_public_key(V.pt_encode(V._pt_add(A, TORSION[1]))) is not None)

# ---------------------------------------------------------------------------
# 6b. Ed25519 edge cases from the vectors (signatures[])

def ed_diagnose(pk, msg, sig):
    """Which rules of section 3 a (pk, msg, sig) breaks, evaluated one by one (test-only)."""
    out = set()
    try:
        A_ = V.pt_decode(pk)
        if V.pt_is_small_order(A_):
            out.add("small-order key")
    except V.FormatError:
        out.add("bad key encoding")
        A_ = None
    s = int.from_bytes(sig[32:], "little")
    if s >= V.L:
        out.add("S >= L")
    try:
        R_ = V.pt_decode(sig[:32])
        if V.pt_is_small_order(R_):
            out.add("small-order R")
    except V.FormatError as e:
        out.add("non-canonical R" if "y >= p" in str(e) else "R not on curve")
        R_ = None
    if A_ is not None and R_ is not None:
        k = int.from_bytes(hashlib.sha512(sig[:32] + pk + msg).digest(), "little") % V.L
        diff = V._pt_add(V.pt_mul(s, V.BASE), V._pt_neg(V._pt_add(R_, V.pt_mul(k, A_))))
        if not V.pt_equal(V.pt_mul(8, diff), V.IDENTITY):
            out.add("cofactored equation")
        if not V.pt_equal(diff, V.IDENTITY):
            out.add("cofactorless equation")
    return out

# What each named case is meant to probe (vectors/README.md; FORMAT.md section 3). Unknown names
# are still checked for their verdict.
SIG_EXPECT = {
    "valid": set(),
    "wrong_s": {"cofactored equation", "cofactorless equation"},
    "s_not_reduced": {"S >= L"},
    # R is the identity as well, so this vector does not isolate the key rule; the
    # isolated case is the synthetic "small-order A with an ordinary R" below.
    "small_order_key": {"small-order key", "small-order R"},
    "mixed_order_r": {"cofactorless equation"},
    # the cofactored equation holds: only rule 2 rejects it
    "small_order_r": {"small-order R", "cofactorless equation"},
    "r_not_canonical": {"non-canonical R"},
}
check("signatures[]: present", len(VEC["signatures"]) > 0)
for j, sv in enumerate(VEC["signatures"]):
    pk_ = V.b64decode_strict(sv["public_key"], 32)
    msg_ = V.hexdecode_strict(sv["message"])
    sig_ = V.b64decode_strict(sv["signature"], 64)
    tag = "signatures[%d] %s (%s)" % (j, sv["name"], sv["rule"])
    check(tag + ": verdict %s" % ("valid" if sv["valid"] else "invalid"),
          lambda: V.ed25519_verify(pk_, msg_, sig_) is sv["valid"])
    check(tag + ": cached verifier agrees", lambda: V.ed25519_verify_cached(pk_, msg_, sig_) is sv["valid"])
    diag = ed_diagnose(pk_, msg_, sig_)
    strict_rules = diag - {"cofactorless equation"}
    check(tag + ": rule-by-rule evaluation agrees with the verdict", (not strict_rules) is sv["valid"])
    if sv["name"] in SIG_EXPECT:
        check(tag + ": breaks exactly %s" % (sorted(SIG_EXPECT[sv["name"]]) or "nothing"),
              diag == SIG_EXPECT[sv["name"]])
    else:
        note("signatures[%d] %s: unknown case name, only its verdict is checked (breaks %s)"
             % (j, sv["name"], sorted(diag)))
    if sv["name"] == "s_not_reduced":
        red = sig_[:32] + (int.from_bytes(sig_[32:], "little") % V.L).to_bytes(32, "little")
        check(tag + ": with S reduced mod L the signature verifies (only rule 1 is broken)",
              V.ed25519_verify(pk_, msg_, red))
    if sv["name"] == "r_not_canonical":
        y = int.from_bytes(sig_[:32], "little") & ((1 << 255) - 1)
        check(tag + ": R's y coordinate is >= p", y >= V.P)

# Small-order public key T with an ordinary R = rB and S = r: [8]SB = [8]R + [8]kT holds, the R and
# S rules hold, so only the public-key rule of section 3 rejects it.
def _small_key_sig(t):
    tpk = V.pt_encode(t)
    rb = V.pt_encode(V.pt_mul(r, V.BASE))
    return tpk, rb + (r % V.L).to_bytes(32, "little")
for i in (0, 1, 2, 4):
    tpk, tsig = _small_key_sig(TORSION[i])
    check("ed25519: NEGATIVE small-order key #%d with ordinary R rejected although the cofactored equation holds" % i,
          lambda: not V.ed25519_verify(tpk, msg, tsig) and ed_diagnose(tpk, msg, tsig) - {"cofactorless equation"} == {"small-order key"})

# ---------------------------------------------------------------------------
# 7. The evidence bundle

BV = VEC["bundle"]
TRUSTED = BV["trusted_log_key"]
check("bundle: trusted_log_key equals checkpoint.log_key", TRUSTED == CP["log_key"])
rep = V.verify_bundle(BUNDLE_BYTES, TRUSTED)
check("bundle: verdict equals expected (valid=%s)" % BV["valid"], rep.valid == BV["valid"])
for name in V.CHECKS:
    check("bundle: check %s passes" % name, lambda: rep.results[name][0] is True)
check("bundle: file is canonical JSON + exactly one newline", BUNDLE_BYTES == V.canonical(BUNDLE) + b"\n")
check("bundle: bundle log_key == trusted", BUNDLE["log_key"] == TRUSTED)
for r in BUNDLE["records"]:
    if r["index"] in ENV_BY_INDEX:
        check("bundle: record %d envelope identical to v1.json envelope[%d]" % (r["index"], r["index"]),
              V.canonical(r["envelope"]) == V.canonical(ENV_BY_INDEX[r["index"]]))
    check("bundle: inclusion proof of record %d recomputed from the envelopes" % r["index"],
          [V.b64encode(h) for h in V.inclusion_proof(r["index"], LH[:int(BCP[1])])] == r["inclusion"])
check("bundle: consistency proof recomputed from the envelopes",
      [V.b64encode(h) for h in V.consistency_proof(int(BCP[1]), LH[:int(BNEW[1])])] == BUNDLE["consistency"]["hashes"])
check("bundle: checkpoint root equals tree root of its size", V.b64decode_strict(BCP[2], 32) == ROOTS[int(BCP[1])])
check("bundle: newer checkpoint is the v1.json checkpoint note", BUNDLE["consistency"]["checkpoint"] == CP["note"])

# whole-file variants
check("bundle: accepted without the optional final newline", V.verify_bundle(BUNDLE_BYTES[:-1], TRUSTED).valid)
check("bundle: NEGATIVE two final newlines rejected", not V.verify_bundle(BUNDLE_BYTES + b"\n", TRUSTED).valid)
check("bundle: NEGATIVE CRLF ending rejected", not V.verify_bundle(BUNDLE_BYTES[:-1] + b"\r\n", TRUSTED).valid)
check("bundle: NEGATIVE pretty-printed (non-canonical) rejected",
      not V.verify_bundle(json.dumps(BUNDLE, indent=1).encode(), TRUSTED).valid)
check("bundle: NEGATIVE wrong trusted log key rejected (log_key)",
      V.verify_bundle(BUNDLE_BYTES, V.log_key_string(origin, ed_public(b"\x11" * 32))).failed()[:1] == ["log_key"])

# section 7.2: the report carries each key's enrollment chain; optional pinned roots
CHAINS = {c["key_id"]: c for c in rep.chains}
ROLE_KID = {k["role"]: k["key_id"] for k in VEC["keys"]}
check("bundle: enrollment chain gateway -> district_bureau -> city_bureau, ending at a self-enrolled root",
      lambda: [l["key_id"] for l in CHAINS[ROLE_KID["gateway"]]["chain"]]
      == [ROLE_KID["gateway"], ROLE_KID["district_bureau"], ROLE_KID["city_bureau"]]
      and [l["role"] for l in CHAINS[ROLE_KID["gateway"]]["chain"]] == ["gateway", "district_bureau", "city_bureau"]
      and all(c["end"] == "root" for c in rep.chains))
check("bundle: every signer's chain ends at the pinned city_bureau root",
      lambda: V.pinned_root_errors(rep, {ROLE_KID["city_bureau"]}) == [])
check("bundle: NEGATIVE pinning only the district_bureau key fails the pinned-root policy",
      lambda: len(V.pinned_root_errors(rep, {ROLE_KID["district_bureau"]})) == len(BUNDLE["records"]))
check("bundle: report JSON lists all twelve checks, none not run",
      lambda: [c["name"] for c in rep.to_json()["checks"]] == V.CHECKS and rep.to_json()["not_run"] == [])

def _cli(*args):
    import contextlib, io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = V.main(list(args))
    return code, out.getvalue()
check("CLI: bundle-v1.json with the trusted key exits 0 and prints VALID",
      lambda: _cli(BUNDLE_PATH, "--log-key", TRUSTED) [0] == 0 and _cli(BUNDLE_PATH, "--log-key", TRUSTED)[1].endswith("VALID\n"))
check("CLI: --json verdict valid",
      lambda: json.loads(_cli(BUNDLE_PATH, "--log-key", TRUSTED, "--json")[1])["valid"] is True)
check("CLI: --root city_bureau exits 0",
      lambda: _cli(BUNDLE_PATH, "--log-key", TRUSTED, "--root", ROLE_KID["city_bureau"])[0] == 0)
check("CLI: NEGATIVE --root district_bureau exits 1",
      lambda: _cli(BUNDLE_PATH, "--log-key", TRUSTED, "--root", ROLE_KID["district_bureau"])[0] == 1)

# invalid_bundles[]: each must be rejected, with its must_fail check among the failed ones
check("invalid_bundles[]: present", len(VEC["invalid_bundles"]) > 0)
for j, ib in enumerate(VEC["invalid_bundles"]):
    tag = "invalid_bundles[%d] %s" % (j, ib["name"])
    check(tag + ": must_fail %r is a section 7.1 check name" % ib["must_fail"], ib["must_fail"] in V.CHECKS)
    data = ib["bundle"].encode("utf-8")
    rep_ = V.verify_bundle(data, TRUSTED)
    check(tag + ": rejected", not rep_.valid)
    check(tag + ": %s is among the failed checks (failed: %s; not run: %s)"
          % (ib["must_fail"], ",".join(rep_.failed()), ",".join(sorted(rep_.not_run)) or "-"),
          ib["must_fail"] in rep_.failed())
    check(tag + ": differs from bundle-v1.json", data != BUNDLE_BYTES)

# byte-flip mutations
positions = sorted(set(range(0, len(BUNDLE_BYTES), 1 if ALL_BYTES else 7)) | {0, len(BUNDLE_BYTES) - 1})
survivors = []
for pos in positions:
    mutated = bytearray(BUNDLE_BYTES)
    mutated[pos] ^= 0x01
    if V.verify_bundle(bytes(mutated), TRUSTED).valid:
        survivors.append(pos)
    check("bundle: NEGATIVE byte %d XOR 0x01 rejected" % pos, pos not in survivors)
if survivors:
    print("     bundle mutations accepted at byte positions: %s" % survivors)


# ---------------------------------------------------------------------------
# 8. Synthetic bundles built with the vector seeds (exercise each check of 7.1)

SEEDS = {k["role"]: V.hexdecode_strict(k["seed"], 32) for k in VEC["keys"]}
PK = {r: ed_public(s) for r, s in SEEDS.items()}
KID = {r: V.key_id(p) for r, p in PK.items()}
VALID_FROM, VALID_UNTIL = "2026-01-01T00:00:00+08:00", "2028-01-01T00:00:00+08:00"


class Log:
    def __init__(self):
        self.envs, self.heads, self.n = [], {}, 0

    def add(self, role, kind, payload, occurred_at, seq=None, prev=None, stream="project/P-1/device/D-1", eid=None):
        kid = KID[role]
        hseq, hprev = self.heads.get(kid, (0, None))
        seq = hseq + 1 if seq is None else seq
        prev = (hprev if seq > 1 else None) if prev is None else (None if prev == "null" else prev)
        self.n += 1
        env = {"v": 1, "id": eid or "01a1ee56-0000-7000-8000-%012x" % self.n, "stream": stream, "kind": kind,
               "occurred_at": occurred_at, "signer": kid, "seq": seq, "prev": prev, "payload": payload}
        env["sig"] = V.b64encode(ed_sign(SEEDS[role], V.envelope_signed_message(env)))
        self.envs.append(env)
        self.heads[kid] = (seq, V.leaf_hash(env).hex())
        return len(self.envs) - 1

    def enroll(self, by, role, at="2026-01-01T09:00:00+08:00", valid_from=VALID_FROM, valid_until=VALID_UNTIL):
        return self.add(by, V.ENROLL_KIND, {"key_id": KID[role], "public_key": V.b64encode(PK[role]), "subject": role,
                                            "role": role, "valid_from": valid_from, "valid_until": valid_until},
                        at, stream="registry/keys")

    def reading(self, n, **kw):
        kw.setdefault("occurred_at", "2026-03-01T08:%02d:00+08:00" % n)
        return self.add("gateway", "iot.dust.reading.v1", {"pm10_ug_m3": "%d.0" % (40 + n)}, **kw)

    def note(self, size, extra="", root=None):
        lh = [V.leaf_hash(e) for e in self.envs[:size]]
        txt = "%s\n%d\n%s\n" % (origin, size, V.b64encode(root or V.mth(lh)))
        return txt + "\n\u2014 %s %s\n" % (origin, V.b64encode(LK.key_id + ed_sign(log_seed, txt.encode()))) + extra

    def bundle(self, indices, size, newer=None, keys=None, tweak=None):
        lh = [V.leaf_hash(e) for e in self.envs]
        if keys is None:
            enr = {e["payload"]["key_id"]: e["id"] for e in self.envs if e["kind"] == V.ENROLL_KIND}
            keys = [{"key_id": KID[r], "public_key": V.b64encode(PK[r]), "enrolled_by": enr.get(KID[r])}
                    for r in ("city_bureau", "district_bureau", "gateway") if KID[r] in enr]
        doc = {"format": V.BUNDLE_FORMAT, "log_key": CP["log_key"], "checkpoint": self.note(size), "keys": keys,
               "records": [{"index": i, "envelope": copy.deepcopy(self.envs[i]),
                            "inclusion": [V.b64encode(h) for h in V.inclusion_proof(i, lh[:size])] if i < size else []}
                           for i in indices],
               "consistency": None if newer is None else {
                   "checkpoint": self.note(newer),
                   "hashes": [V.b64encode(h) for h in V.consistency_proof(size, lh[:newer])] if newer >= size else []}}
        if tweak:
            tweak(doc)
        return V.canonical(doc) + b"\n"


def base_log():
    lg = Log()
    lg.enroll("city_bureau", "city_bureau")          # 0 root, self-enrolled
    lg.enroll("city_bureau", "district_bureau")      # 1
    lg.enroll("district_bureau", "gateway")          # 2
    for i in range(3):
        lg.reading(i)                                # 3, 4, 5 (seq 1..3)
    return lg


def scenario(name, data, expect_failed, trusted=None, not_run=()):
    """expect_failed: the checks that must run and fail; not_run: the checks that must not be reported
    (section 7.1: they cannot run because an earlier check failed); every other check must pass."""
    rep_ = V.verify_bundle(data, trusted or CP["log_key"])
    desc = "valid" if not expect_failed else "fails " + ",".join(expect_failed)
    if not_run:
        desc += "; not run: " + ",".join(not_run)
    ok = (rep_.failed() == list(expect_failed) and sorted(rep_.not_run) == sorted(not_run)
          and rep_.valid == (not expect_failed and not not_run))
    check("synthetic bundle: %s -> %s" % (name, desc), ok)
    if not ok:
        print("     got failed=%s not_run=%s %s" % (rep_.failed(), sorted(rep_.not_run),
                                                   {n: rep_.results[n][1] for n in rep_.failed()}))
    return rep_


lg = base_log(); lg.reading(3); lg.reading(4)
scenario("all six records, checkpoint 6, consistency to 8", lg.bundle(range(6), 6, newer=8), [])
scenario("records with a seq gap (0,1,2,3,5)", lg.bundle([0, 1, 2, 3, 5], 6, newer=8), [])
scenario("consistency null", lg.bundle(range(6), 6), [])
scenario("consistency to the same size (empty proof)", lg.bundle(range(6), 6, newer=6), [])
scenario("NEGATIVE consistency to a smaller tree", lg.bundle(range(6), 6, newer=5), ["consistency"])
scenario("NEGATIVE record index beyond the checkpoint", lg.bundle(range(7), 6), ["inclusion"])
scenario("NEGATIVE wrong trusted log key", lg.bundle(range(6), 6, newer=8),
         ["log_key", "checkpoint_signature"], not_run=["inclusion", "consistency"],
         trusted=V.log_key_string(origin, ed_public(b"\x11" * 32)))
scenario("NEGATIVE unparseable trusted log key", lg.bundle(range(6), 6, newer=8),
         ["log_key"], not_run=["checkpoint_signature", "inclusion", "consistency"], trusted="not a key")

def t_unknown_member(d): d["records"][0]["note"] = "x"
scenario("NEGATIVE unknown member in a record", lg.bundle(range(6), 6, tweak=t_unknown_member), ["bundle_format"],
         not_run=V.CHECKS[1:])
def t_witness(d): d["checkpoint"] += "\u2014 witness.example %s\n" % V.b64encode(b"\x01\x02\x03\x04" + b"\0" * 64)
scenario("NEGATIVE extra witness signature on the checkpoint", lg.bundle(range(6), 6, newer=8, tweak=t_witness),
         ["checkpoint_signature"], not_run=["inclusion", "consistency"])
def t_dup(d): d["records"].append(copy.deepcopy(d["records"][3]))
scenario("NEGATIVE duplicate index", lg.bundle(range(6), 6, tweak=t_dup), ["envelope_format"])
def t_dupkey(d): d["keys"].append(copy.deepcopy(d["keys"][2]))
scenario("NEGATIVE duplicate key id", lg.bundle(range(6), 6, tweak=t_dupkey), ["key_id"])
def t_smallkey(d): d["keys"].append({"key_id": V.key_id(V.pt_encode(V.IDENTITY)), "public_key": V.b64encode(V.pt_encode(V.IDENTITY)), "enrolled_by": None})
scenario("NEGATIVE small-order key in keys", lg.bundle(range(6), 6, tweak=t_smallkey), ["key_id", "key_enrollment"])
def t_nokey(d): del d["keys"][2]
scenario("NEGATIVE signer's key missing from keys", lg.bundle(range(6), 6, tweak=t_nokey), ["signer_key"],
         not_run=["signature"])
def t_null_enrol(d): d["keys"][2]["enrolled_by"] = None
r_ = scenario("NEGATIVE gateway key with enrolled_by null (check 8 requires every enrollment)",
              lg.bundle([0, 1, 3, 4, 5], 6, tweak=t_null_enrol), ["key_enrollment"])
check("synthetic bundle: ...its chain ends 'unenrolled'",
      lambda: {c["key_id"]: c["end"] for c in r_.chains}[KID["gateway"]] == "unenrolled")
check("synthetic bundle: ...and it fails a pinned city_bureau root (section 7.2)",
      lambda: len(V.pinned_root_errors(r_, {KID["city_bureau"]})) == 3)
def t_bad_pk(d): d["keys"][2]["public_key"] = V.b64encode(PK["district_bureau"])
scenario("NEGATIVE key whose public_key does not match key_id (its records' signatures cannot be checked)",
         lg.bundle(range(6), 6, tweak=t_bad_pk), ["key_id", "key_enrollment"], not_run=["signature"])
def t_bad_env(d): d["records"][4]["envelope"]["extra"] = 1
scenario("NEGATIVE malformed envelope (per-record dependants not reported when otherwise clean)",
         lg.bundle(range(6), 6, tweak=t_bad_env), ["envelope_format", "inclusion"],
         not_run=["signer_key", "signature", "key_validity", "signer_chain"])
def t_bad_env_sig(d):
    d["records"][4]["envelope"]["extra"] = 1
    d["records"][5]["envelope"]["sig"] = d["records"][3]["envelope"]["sig"]
scenario("NEGATIVE malformed envelope plus a bad signature elsewhere (signature still reported)",
         lg.bundle(range(6), 6, tweak=t_bad_env_sig), ["envelope_format", "signature", "inclusion"],
         not_run=["signer_key", "key_validity", "signer_chain"])
def t_enrol_reading(d): d["keys"][2]["enrolled_by"] = d["records"][3]["envelope"]["id"]
scenario("NEGATIVE enrolled_by names a reading record", lg.bundle(range(6), 6, tweak=t_enrol_reading), ["key_enrollment"])
def t_enrol_other(d): d["keys"][2]["enrolled_by"] = d["records"][1]["envelope"]["id"]
scenario("NEGATIVE enrolled_by names another key's enrollment", lg.bundle(range(6), 6, tweak=t_enrol_other), ["key_enrollment"])
scenario("NEGATIVE enrollment record missing from the bundle", lg.bundle([0, 1, 3, 4, 5], 6), ["key_enrollment"])
data = lg.bundle(range(6), 6).replace(b'"pm10_ug_m3":"40.0"', b'"pm10_ug_m3":40.0', 1)
scenario("NEGATIVE float in a payload", data, ["bundle_format"], not_run=V.CHECKS[1:])
data = lg.bundle(range(6), 6).replace(b'"pm10_ug_m3":"40.0"', b'"pm10_ug_m3":"40.1"', 1)
scenario("NEGATIVE payload edited", data, ["signature", "inclusion", "signer_chain"])

lg = base_log()
lg.reading(9, seq=2, prev=V.leaf_hash(lg.envs[3]).hex())  # 6: second seq 2
scenario("NEGATIVE equivocation (two different seq 2 records)", lg.bundle(range(7), 7), ["signer_chain"])
scenario("equivocating record alone with seq 1 (chain consistent)", lg.bundle([0, 1, 2, 3, 6], 7), [])
lg = base_log()
lg.reading(9, prev=V.leaf_hash(lg.envs[3]).hex())  # 6: seq 4 pointing at seq 1
scenario("NEGATIVE prev is not the previous record's leaf hash", lg.bundle(range(7), 7), ["signer_chain"])

lg = base_log()
lg.reading(9, occurred_at="2025-12-31T15:59:59Z")           # 6: 1 s before valid_from
scenario("NEGATIVE occurred_at before valid_from (other offset)", lg.bundle(range(7), 7), ["key_validity"])
lg = base_log()
lg.reading(9, occurred_at="2025-12-31T16:00:00Z")           # 6: exactly valid_from
lg.reading(9, occurred_at="2027-12-31T15:59:59.999Z")       # 7: just before valid_until
scenario("occurred_at = valid_from and just before valid_until (instants, other offset)", lg.bundle(range(8), 8), [])
lg = base_log()
lg.reading(9, occurred_at="2027-12-31T16:00:00Z")           # 6: exactly valid_until (exclusive)
scenario("NEGATIVE occurred_at = valid_until", lg.bundle(range(7), 7), ["key_validity"])

lg = Log()
lg.enroll("city_bureau", "city_bureau")
lg.enroll("city_bureau", "district_bureau")
lg.reading(0)                                     # 2: gateway signs before it is enrolled
lg.enroll("district_bureau", "gateway")           # 3
scenario("NEGATIVE record logged before its key's enrollment", lg.bundle(range(4), 4), ["key_validity"])

lg = Log()
lg.enroll("city_bureau", "city_bureau", valid_until=None)
lg.enroll("city_bureau", "gateway", valid_until=None)
lg.reading(0, occurred_at="9999-12-31T23:59:59+00:00")
scenario("open-ended validity (valid_until null)", lg.bundle(range(3), 3), [])

# check 8: exactly one record with the enrolled_by event id
lg = base_log()
lg.reading(9, eid=lg.envs[2]["id"])               # 6: a reading that reuses the gateway enrollment's event id
scenario("NEGATIVE enrolled_by matches two records (check 8 needs exactly one)", lg.bundle(range(7), 7), ["key_enrollment"])
scenario("...the same log, bundle without the reading: exactly one match", lg.bundle(range(6), 7), [])

# check 12: equal sizes need an empty proof and equal roots
lg = base_log(); lg.reading(3)
def t_same_size_proof(d): d["consistency"]["hashes"] = [V.b64encode(V.leaf_hash(lg.envs[0]))]
scenario("NEGATIVE consistency to the same size with a non-empty proof", lg.bundle(range(6), 6, newer=6,
         tweak=t_same_size_proof), ["consistency"])
def t_same_size_fork(d): d["consistency"]["checkpoint"] = lg.note(6, root=V.mth([V.leaf_hash(e) for e in lg.envs[1:7]]))
scenario("NEGATIVE consistency to the same size with a different root (fork)", lg.bundle(range(6), 6, newer=6,
         tweak=t_same_size_fork), ["consistency"])
def t_newer_wrong_key(d):
    d["consistency"]["checkpoint"] = d["consistency"]["checkpoint"].replace(
        d["consistency"]["checkpoint"].split(" ")[-1], V.b64encode(LK.key_id + b"\0" * 64) + "\n")
scenario("NEGATIVE newer checkpoint with a bad signature", lg.bundle(range(6), 6, newer=7, tweak=t_newer_wrong_key),
         ["consistency"])

# revocation records are not expected in v1 bundles; reported as a note, not interpreted
lg = base_log()
lg.add("district_bureau", "ledger.key.revoked.v1", {"key_id": KID["gateway"], "revoked_at": "2026-03-01T08:01:30+08:00",
                                                    "reason": "device replaced"}, "2026-03-01T08:01:30+08:00",
       stream="registry/keys")
r_ = scenario("bundle holding a ledger.key.revoked.v1 record (valid, with a note)", lg.bundle(range(7), 7), [])
check("synthetic bundle: ...note about the revocation record", lambda: any("revoked" in n_ for n_ in r_.notes))

# ---------------------------------------------------------------------------
# 9. Format v1.1: evidence packages with attachments (section 7.3)

AV = json.load(open(os.path.join(VECTORS, "attachments-v1.1.json"), encoding="utf-8"))
PK = AV["package"]
with open(os.path.join(VECTORS, PK["bundle_file"]), "rb") as f_:
    PKG_BYTES = f_.read()
PKG_FILES = {x["sha256"]: bytes.fromhex(x["content"]) for x in PK["files"]}
for h_, b_ in PKG_FILES.items():
    check("v1.1: file %s... hashes to its name" % h_[:12], hashlib.sha256(b_).hexdigest() == h_)
    with open(os.path.join(VECTORS, PK["attachments_dir"], h_), "rb") as f_:
        check("v1.1: committed attachment %s... equals the vector content" % h_[:12], f_.read() == b_)
rp_ = V.verify_package(PKG_BYTES, PK["trusted_log_key"], PKG_FILES)
check("v1.1: package with its files is valid", rp_.valid is True and rp_.failed() == [])
check("v1.1: attachment checks ran", "attachment_citation" in rp_.results and "attachment" in rp_.results)
check("v1.1: bundle alone is valid", V.verify_bundle(PKG_BYTES, PK["trusted_log_key"]).valid)
rp_ = V.verify_package(PKG_BYTES, PK["trusted_log_key"], {})
check("v1.1: absent files are notes, not failures", rp_.valid and any("not included" in n_ for n_ in rp_.notes))
for ib_ in AV["invalid_bundles"]:
    r_ = V.verify_package(ib_["bundle"].encode(), PK["trusted_log_key"], PKG_FILES)
    check("v1.1 invalid_bundles %s: fails %s" % (ib_["name"], ib_["must_fail"]),
          not r_.valid and ib_["must_fail"] in r_.failed())
for ip_ in AV["invalid_packages"]:
    fs_ = dict(PKG_FILES)
    for k_ in ("replace", "add"):
        if k_ in ip_:
            fs_[ip_[k_]["name"]] = bytes.fromhex(ip_[k_]["content"])
    r_ = V.verify_package(PKG_BYTES, PK["trusted_log_key"], fs_)
    check("v1.1 invalid_packages %s: fails %s" % (ip_["name"], ip_["must_fail"]),
          not r_.valid and ip_["must_fail"] in r_.failed())

# ---------------------------------------------------------------------------

print("notes: %d (see above)" % len(notes) if notes else "notes: none")
if failed:
    print("failed checks:")
    for f_ in failed:
        print("  - %s" % f_)
print("%d passed, %d failed" % (passed, len(failed)))
sys.exit(0 if not failed else 1)
