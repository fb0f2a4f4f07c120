"""Cross-checks SiteLedger's SM2/SM3 with an independent implementation: Python `gmssl` (PyPI, pure Python).

Reads a JSON request on stdin (written by signer/tests/signer/sm2.rs, signer/tests/signer/sm2_format.rs for the
SM2-signed envelopes of format 1.4, signer/tests/signer/sm2_checkpoint.rs for the SM2-signed checkpoint of format
1.5, and tests/tests/sm2_enterprise.rs; every member is optional):
  {"sm3": [hex input, ...],
   "verify": [{"name", "public_key": hex 04||x||y, "id", "message": hex, "signature": hex r||s}, ...],
   "sign": [{"name", "private_key": hex, "public_key": hex, "id", "message": hex}, ...],
   "sign_with_k": [the same plus "k": hex nonce, e.g. the GB/T 32918.5 example's]}
and writes {"sm3": [hex digest, ...], "verify": [{"name", "valid": bool}], "sign": [{"name", "signature": hex r||s}],
"sign_with_k": [{"name", "signature"}]}.

gmssl's `sign_with_sm3`/`verify_with_sm3` hash Z_A with the GM/T 0009 default identity only; for any identity this
script builds Z_A = SM3(ENTL_A || ID_A || a || b || xG || yG || xA || yA) from gmssl's own curve table and SM3, then
calls gmssl's `sign`/`verify` on e = SM3(Z_A || M). For the default identity it also checks that gmssl's own
`verify_with_sm3` agrees. Nonces come from gmssl's random source, so our verifier sees signatures it did not make.
"""

import json
import sys

from gmssl import func, sm2, sm3


def sm3_hex(data: bytes) -> str:
    return sm3.sm3_hash(func.bytes_to_list(data))


def crypt(private_key: str, public_key: str) -> sm2.CryptSM2:
    c = sm2.CryptSM2(private_key=private_key, public_key="00")
    # gmssl 3.2.2 strips a leading "04" with str.lstrip("04"), which also eats leading '0'/'4' digits of x:
    # set the 128-hex-digit x||y directly instead.
    c.public_key = public_key[2:] if public_key.startswith("04") and len(public_key) == 130 else public_key
    return c


def e_of(c: sm2.CryptSM2, ident: str, message: bytes) -> bytes:
    table = c.ecc_table
    id_bytes = ident.encode("utf-8")
    z_input = (
        (len(id_bytes) * 8).to_bytes(2, "big")
        + id_bytes
        + bytes.fromhex(table["a"] + table["b"] + table["g"] + c.public_key)
    )
    z = bytes.fromhex(sm3_hex(z_input))
    return bytes.fromhex(sm3_hex(z + message))


def verify(case) -> bool:
    c = crypt("00", case["public_key"])
    message = bytes.fromhex(case["message"])
    sig = case["signature"]
    r, s = int(sig[:64], 16), int(sig[64:], 16)
    n = int(c.ecc_table["n"], 16)
    # gmssl does not range-check r and s (GB/T 32918.2 §7.1 B1-B2): do it here, as the standard says.
    if not (1 <= r < n and 1 <= s < n):
        return False
    ok = bool(c.verify(sig, e_of(c, case["id"], message)))
    if case["id"] == "1234567812345678":
        own = bool(c.verify_with_sm3(sig, message))
        if own != ok:
            raise SystemExit(f"{case['name']}: gmssl's own default-identity Z_A disagrees with ours")
    return ok


def sign(case) -> str:
    c = crypt(case["private_key"], case["public_key"])
    e = e_of(c, case["id"], bytes.fromhex(case["message"]))
    while True:
        sig = c.sign(e, func.random_hex(c.para_len))
        if sig is not None:  # gmssl returns None for the rare r = 0, r + k = n or s = 0: retry with a new k
            return sig


def sign_with_k(case) -> str:
    c = crypt(case["private_key"], case["public_key"])
    return c.sign(e_of(c, case["id"], bytes.fromhex(case["message"])), case["k"])


def main() -> None:
    req = json.load(sys.stdin)
    out = {
        "sm3": [sm3_hex(bytes.fromhex(h)) for h in req.get("sm3", [])],
        "verify": [{"name": c["name"], "valid": verify(c)} for c in req.get("verify", [])],
        "sign": [{"name": c["name"], "signature": sign(c)} for c in req.get("sign", [])],
        "sign_with_k": [{"name": c["name"], "signature": sign_with_k(c)} for c in req.get("sign_with_k", [])],
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
