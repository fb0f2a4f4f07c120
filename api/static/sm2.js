// 宁波市智慧工地监管平台 — SM3 (GB/T 32905) and SM2 signature verification (GB/T 32918.2, GM/T 0009) for the verify
// page: WebCrypto has neither, so they are computed here, dependency-free, with BigInt arithmetic on the recommended
// curve sm2p256v1 (GB/T 32918.5). The same definitions as signer/src/sm2.rs; tests/tests/browser_sm2.rs runs this
// file in Chromium against signer/tests/vectors/sm2-v1.json (the GB/T 32905 SM3 examples, the GB/T 32918.5 Annex
// A.2 signature, OpenSSL's and our own signatures, and tampered ones).
//
// Verification only: the inputs are public (key, message, signature), so nothing here needs to be constant time.
//   Z_A  = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A)    ENTL_A = bit length of ID_A (UTF-8), 2 bytes BE
//   e    = SM3(Z_A ‖ M)
//   accept (r, s) iff r, s ∈ [1, n−1], t = (r + s) mod n ≠ 0, (x1, y1) = [s]G + [t]P_A ≠ O and (e + x1) mod n = r
//   key id = SHA-256(0xff ‖ "sm2" ‖ ENTL_A ‖ ID_A ‖ 04 ‖ x ‖ y)[0:16], 32 lowercase hex (WebCrypto SHA-256)
// Exposes window.siteledgerSm2. No external script; no build step.
(function () {
  'use strict';

  var DEFAULT_ID = '1234567812345678';
  var MAX_ID_LEN = 8191; // ENTL_A holds the identity's length in bits in two bytes
  var enc = new TextEncoder();

  // ---- SM3 (GB/T 32905-2016) -------------------------------------------------------------------------------

  var IV = [0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e];

  function rotl(x, n) {
    n %= 32;
    return n === 0 ? x | 0 : (x << n) | (x >>> (32 - n));
  }

  function p0(x) { return x ^ rotl(x, 9) ^ rotl(x, 17); }
  function p1(x) { return x ^ rotl(x, 15) ^ rotl(x, 23); }

  function sm3(msg) {
    var len = msg.length;
    var padded = Math.ceil((len + 9) / 64) * 64;
    var buf = new Uint8Array(padded);
    buf.set(msg);
    buf[len] = 0x80;
    // 64-bit big-endian bit length: lengths here are far below 2^53 bits.
    var bitsHi = Math.floor(len / 0x20000000), bitsLo = (len * 8) >>> 0;
    var dv = new DataView(buf.buffer);
    dv.setUint32(padded - 8, bitsHi);
    dv.setUint32(padded - 4, bitsLo);
    var v = IV.slice();
    var w = new Int32Array(68), w1 = new Int32Array(64);
    for (var off = 0; off < padded; off += 64) {
      var j;
      for (j = 0; j < 16; j++) w[j] = dv.getInt32(off + 4 * j);
      for (j = 16; j < 68; j++) {
        w[j] = p1(w[j - 16] ^ w[j - 9] ^ rotl(w[j - 3], 15)) ^ rotl(w[j - 13], 7) ^ w[j - 6];
      }
      for (j = 0; j < 64; j++) w1[j] = w[j] ^ w[j + 4];
      var a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7];
      for (j = 0; j < 64; j++) {
        var t = j < 16 ? 0x79cc4519 : 0x7a879d8a;
        var a12 = rotl(a, 12);
        var ss1 = rotl((a12 + e + rotl(t, j)) | 0, 7);
        var ss2 = ss1 ^ a12;
        var ff = j < 16 ? a ^ b ^ c : (a & b) | (a & c) | (b & c);
        var gg = j < 16 ? e ^ f ^ g : (e & f) | (~e & g);
        var tt1 = (ff + d + ss2 + w1[j]) | 0;
        var tt2 = (gg + h + ss1 + w[j]) | 0;
        d = c; c = rotl(b, 9); b = a; a = tt1;
        h = g; g = rotl(f, 19); f = e; e = p0(tt2);
      }
      v[0] ^= a; v[1] ^= b; v[2] ^= c; v[3] ^= d; v[4] ^= e; v[5] ^= f; v[6] ^= g; v[7] ^= h;
    }
    var out = new Uint8Array(32), odv = new DataView(out.buffer);
    for (var i = 0; i < 8; i++) odv.setInt32(4 * i, v[i]);
    return out;
  }

  // ---- sm2p256v1 (GB/T 32918.5) ----------------------------------------------------------------------------

  var P = BigInt('0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffff');
  var A = BigInt('0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc');
  var B = BigInt('0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93');
  var N = BigInt('0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123');
  var GX = BigInt('0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7');
  var GY = BigInt('0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0');

  // concat(a, b, …) of Uint8Arrays (verify.js uses this copy too).
  function concat() {
    var n = 0, i;
    for (i = 0; i < arguments.length; i++) n += arguments[i].length;
    var out = new Uint8Array(n), o = 0;
    for (i = 0; i < arguments.length; i++) { out.set(arguments[i], o); o += arguments[i].length; }
    return out;
  }

  function toBig(bytes) {
    var s = '0x0';
    for (var i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
    return BigInt(s);
  }

  function toBytes32(x) {
    var h = x.toString(16);
    while (h.length < 64) h = '0' + h;
    var out = new Uint8Array(32);
    for (var i = 0; i < 32; i++) out[i] = parseInt(h.substr(2 * i, 2), 16);
    return out;
  }

  function mod(x, m) {
    var r = x % m;
    return r < 0n ? r + m : r;
  }

  function inverse(x, m) {
    // Fermat: m is prime (p here), x ≠ 0 mod m.
    var result = 1n, base = mod(x, m), e = m - 2n;
    while (e > 0n) {
      if (e & 1n) result = (result * base) % m;
      base = (base * base) % m;
      e >>= 1n;
    }
    return result;
  }

  // Jacobian points [X, Y, Z] (x = X/Z², y = Y/Z³); Z = 0 is the point at infinity.
  var INFINITY = [1n, 1n, 0n];

  function double(pt) {
    var x = pt[0], y = pt[1], z = pt[2];
    if (z === 0n || y === 0n) return INFINITY;
    var yy = (y * y) % P;
    var zz = (z * z) % P;
    var s = (4n * x * yy) % P;
    var m = (3n * x * x + A * ((zz * zz) % P)) % P;
    var x3 = mod(m * m - 2n * s, P);
    var y3 = mod(m * (s - x3) - 8n * ((yy * yy) % P), P);
    var z3 = (2n * y * z) % P;
    return [x3, y3, z3];
  }

  function add(p1, p2) {
    if (p1[2] === 0n) return p2;
    if (p2[2] === 0n) return p1;
    var z1z1 = (p1[2] * p1[2]) % P, z2z2 = (p2[2] * p2[2]) % P;
    var u1 = (p1[0] * z2z2) % P, u2 = (p2[0] * z1z1) % P;
    var s1 = (p1[1] * p2[2] * z2z2) % P, s2 = (p2[1] * p1[2] * z1z1) % P;
    if (u1 === u2) return s1 === s2 ? double(p1) : INFINITY;
    var h = mod(u2 - u1, P), r = mod(s2 - s1, P);
    var hh = (h * h) % P, hhh = (h * hh) % P, v = (u1 * hh) % P;
    var x3 = mod(r * r - hhh - 2n * v, P);
    var y3 = mod(r * (v - x3) - s1 * hhh, P);
    var z3 = (p1[2] * p2[2] * h) % P;
    return [x3, y3, z3];
  }

  // [k1]P1 + [k2]P2 (Shamir's trick), k1, k2 ≥ 0.
  function mulAdd(k1, p1, k2, p2) {
    var both = add(p1, p2), acc = INFINITY;
    var bits = Math.max(k1.toString(2).length, k2.toString(2).length);
    for (var i = bits - 1; i >= 0; i--) {
      acc = double(acc);
      var b1 = (k1 >> BigInt(i)) & 1n, b2 = (k2 >> BigInt(i)) & 1n;
      if (b1 && b2) acc = add(acc, both);
      else if (b1) acc = add(acc, p1);
      else if (b2) acc = add(acc, p2);
    }
    return acc;
  }

  function affineX(pt) {
    var zi = inverse(pt[2], P);
    return (pt[0] * ((zi * zi) % P)) % P;
  }

  // ---- keys, identities, signatures --------------------------------------------------------------------------

  // Why `publicKey` (bytes) is not an acceptable SM2 public key, or null.
  function publicKeyError(publicKey) {
    if (!(publicKey instanceof Uint8Array) || publicKey.length !== 65) {
      return 'SM2 公钥应为 65 字节（04 ‖ x ‖ y） the SM2 public key must be 65 bytes 04 ‖ x ‖ y, not ' +
        (publicKey && publicKey.length) + ' bytes';
    }
    if (publicKey[0] !== 4) return 'SM2 公钥不是未压缩点（首字节应为 04） the SM2 public key is not an uncompressed point (first byte 04)';
    var x = toBig(publicKey.subarray(1, 33)), y = toBig(publicKey.subarray(33, 65));
    if (x >= P || y >= P || (y * y) % P !== (((x * x) % P) * x + A * x + B) % P) {
      return 'SM2 公钥不在 sm2p256v1 曲线上 the SM2 public key is not a point of curve sm2p256v1';
    }
    return null;
  }

  // The identity's UTF-8 bytes, or an Error saying why it cannot be one.
  function idBytes(id) {
    if (typeof id !== 'string') throw new Error('SM2 签名者身份应为字符串 the SM2 signer identity must be a string');
    var bytes = enc.encode(id);
    if (bytes.length > MAX_ID_LEN) {
      throw new Error('SM2 签名者身份过长（' + bytes.length + ' 字节，至多 ' + MAX_ID_LEN + '） the SM2 signer identity is ' +
        bytes.length + ' bytes, at most ' + MAX_ID_LEN);
    }
    return bytes;
  }

  function entl(idb) {
    var bits = idb.length * 8;
    return new Uint8Array([bits >> 8, bits & 0xff]);
  }

  // Z_A for a checked public key and identity.
  function za(publicKey, id) {
    var idb = idBytes(id);
    var bad = publicKeyError(publicKey);
    if (bad) throw new Error(bad);
    return sm3(concat(entl(idb), idb, toBytes32(A), toBytes32(B), toBytes32(GX), toBytes32(GY), publicKey.subarray(1)));
  }

  // e = SM3(Z_A ‖ M)
  function digest(publicKey, id, message) {
    return sm3(concat(za(publicKey, id), message));
  }

  // Why `signature` (64 bytes r ‖ s) is not a valid SM2 signature of `message` by `publicKey` under identity `id`,
  // or null when it is (GB/T 32918.2-2016 §7.1 B1–B7).
  function check(publicKey, id, message, signature) {
    var bad = publicKeyError(publicKey);
    if (bad) return bad;
    try {
      idBytes(id);
    } catch (e) {
      return e.message;
    }
    if (!(signature instanceof Uint8Array) || signature.length !== 64) {
      return 'SM2 签名应为 64 字节 r ‖ s the SM2 signature must be 64 bytes r ‖ s';
    }
    var r = toBig(signature.subarray(0, 32)), s = toBig(signature.subarray(32, 64));
    if (r < 1n || r >= N || s < 1n || s >= N) {
      return 'SM2 签名的 r、s 不在 [1, n−1] 内 SM2 signature r, s outside [1, n−1]';
    }
    var e = toBig(digest(publicKey, id, message));
    var t = (r + s) % N;
    if (t === 0n) return 'SM2 签名无效（t = 0） invalid SM2 signature (t = 0)';
    var pa = [toBig(publicKey.subarray(1, 33)), toBig(publicKey.subarray(33, 65)), 1n];
    var pt = mulAdd(s, [GX, GY, 1n], t, pa);
    if (pt[2] === 0n) return 'SM2 签名无效 invalid SM2 signature';
    return (e + affineX(pt)) % N === r ? null : 'SM2 签名无效 invalid SM2 signature';
  }

  function verify(publicKey, id, message, signature) {
    return check(publicKey, id, message, signature) === null;
  }

  // The bytes hashed into an SM2 key id: 0xff ‖ "sm2" ‖ ENTL_A ‖ ID_A ‖ 04 ‖ x ‖ y.
  function keyIdInput(publicKey, id) {
    var idb = idBytes(id);
    return concat(new Uint8Array([0xff]), enc.encode('sm2'), entl(idb), idb, publicKey);
  }

  // The key id (32 lowercase hex), via WebCrypto SHA-256.
  function keyId(publicKey, id) {
    if (!window.crypto || !crypto.subtle) {
      return Promise.reject(new Error('此浏览器环境不提供 WebCrypto，无法计算密钥 ID · WebCrypto (SHA-256) needs a secure context'));
    }
    return crypto.subtle.digest('SHA-256', keyIdInput(publicKey, id)).then(function (h) {
      var b = new Uint8Array(h).slice(0, 16), s = '';
      for (var i = 0; i < b.length; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
      return s;
    });
  }

  window.siteledgerSm2 = {
    DEFAULT_ID: DEFAULT_ID,
    concat: concat,
    sm3: sm3,
    za: za,
    digest: digest,
    publicKeyError: publicKeyError,
    check: check,
    verify: verify,
    keyIdInput: keyIdInput,
    keyId: keyId,
  };
})();
