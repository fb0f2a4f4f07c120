// 宁波市智慧工地监管平台 — checks a record's evidence bundle in the browser (docs/FORMAT.md §2–§7).
//
// Everything is recomputed here with WebCrypto (SHA-256, Ed25519) and sm2.js (SM3, SM2); nothing is taken from the
// server's word:
//   log_key               the bundle's log key equals the one this platform publishes, and its key id is right
//   checkpoint_signature  the checkpoint note's signature by the log key (C2SP signed note): Ed25519, or SM2 over
//                         SM3 when the log key is SM2 (format 1.5, docs/FORMAT.md §12)
//   inclusion             leaf hash = SHA-256(0x00 ‖ canonical envelope) is in the checkpoint's tree (RFC 9162)
//   signature             the signer's signature over "siteledger-envelope-v1" ‖ 0x00 ‖ canonical(envelope without
//                         sig): Ed25519, or SM2 over SM3(Z_A ‖ M) (GB/T 32918.2, GM/T 0009)
//   key_enrollment        every signer key's enrollment record is in the bundle, names the key, is signed and
//                         included in the same tree
// Signature algorithms (issue 18, bundle format 1.4): a key's algorithm is the one its `ledger.key.enrolled.v1`
// record in the bundle declares: payload `alg` "ed25519" (or absent) or "sm2"; an SM2 key's signer identity ID_A is
// the payload's `sm2_id` (absent: the GM/T 0009 default "1234567812345678"), its public key the 65-byte point
// 04 ‖ x ‖ y and its key id SHA-256(0xff ‖ "sm2" ‖ ENTL_A ‖ ID_A ‖ 04 ‖ x ‖ y)[0:16]. The bundle's key entry must
// say the same (`alg` "sm2" and a declared `sm2_id`; an Ed25519 entry has neither), and only a 1.4 bundle may hold
// an SM2 key. Any other `alg`, or a disagreement, fails the checks that need the key, with the reason; a key whose
// enrollment is not in the bundle is read from its entry (and fails key_enrollment). The page shows each signer's
// algorithm. Checkpoints are Ed25519 up to format 1.4; a 1.5 bundle's log key is SM2 (signed-note type 0xff ‖ "sm2",
// key bytes 0xff ‖ "sm2" ‖ ENTL_A ‖ ID_A ‖ 04 ‖ x ‖ y), and only a 1.5 bundle may name one.
// SM3 and SM2 come from sm2.js (loaded before this file, like canonical.js): WebCrypto has neither.
// No external script; no build step.
(function () {
  'use strict';

  var list = document.getElementById('checks');
  if (!list) return;
  var verdict = document.getElementById('verdict');
  var envelopeEl = document.getElementById('envelope');
  var eventId = list.dataset.eventId;
  var enc = new TextEncoder();

  // ---- bytes ----------------------------------------------------------------------------------------------

  // concat(a, b, …) of Uint8Arrays: the copy in sm2.js, loaded before this file (if it is missing, every check
  // reports "not checked" with the TypeError).
  var concat = (window.siteledgerSm2 || {}).concat;

  function b64(s) {
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function hex(bytes) {
    var s = '';
    for (var i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
    return s;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    var d = 0;
    for (var i = 0; i < a.length; i++) d |= a[i] ^ b[i];
    return d === 0;
  }

  function sha256(bytes) {
    return crypto.subtle.digest('SHA-256', bytes).then(function (b) { return new Uint8Array(b); });
  }

  function ed25519Verify(publicKey, signature, message) {
    return crypto.subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']).then(function (key) {
      return crypto.subtle.verify({ name: 'Ed25519' }, key, signature, message);
    });
  }

  // ---- canonical JSON (FORMAT.md §2): the shared copy in canonical.js, loaded before this file -------------

  var canonical = window.siteledgerCanonical;

  function leafHash(envelope) {
    return sha256(concat(new Uint8Array([0]), enc.encode(canonical(envelope))));
  }

  function nodeHash(left, right) {
    return sha256(concat(new Uint8Array([1]), left, right));
  }

  // ---- RFC 9162 §2.1.3.2: verify an inclusion proof --------------------------------------------------------
  // Indices are plain numbers (exact up to 2^53); halving with Math.floor instead of 32-bit shifts.

  function verifyInclusion(leaf, index, size, proof, root) {
    if (!(index < size)) return Promise.resolve(false);
    var fn = index, sn = size - 1, r = leaf, i = 0;
    function step() {
      if (i === proof.length) return Promise.resolve(sn === 0 && equal(r, root));
      if (sn === 0) return Promise.resolve(false);
      var p = proof[i++];
      var next;
      if (fn % 2 === 1 || fn === sn) {
        next = nodeHash(p, r);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        next = nodeHash(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
      return next.then(function (h) { r = h; return step(); });
    }
    return step();
  }

  // ---- C2SP: log key string and signed note ----------------------------------------------------------------

  // "<name>+<8 hex key id>+<base64(type ‖ key)>"; the name has no '+', the base64 may. The type and key are
  // 0x01 ‖ 32-byte Ed25519 key, or (format 1.5) 0xff ‖ "sm2" ‖ ENTL_A (2 bytes, bits) ‖ ID_A ‖ 65-byte SM2 point.
  function parseLogKey(s) {
    var m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+={0,2})$/.exec(s);
    if (!m) throw new Error('log key is not name+id+key');
    var raw = b64(m[3]);
    if (raw.length === 33 && raw[0] === 1) {
      return { name: m[1], id: m[2], alg: 'ed25519', typed: raw, publicKey: raw.slice(1) };
    }
    if (raw.length >= 6 && raw[0] === 0xff && raw[1] === 0x73 && raw[2] === 0x6d && raw[3] === 0x32) {
      var bits = raw[4] * 256 + raw[5];
      if (bits % 8 !== 0 || raw.length !== 6 + bits / 8 + 65) {
        throw new Error('日志公钥（SM2）长度不符 the SM2 log key\'s identity length ENTL_A does not match its bytes');
      }
      var sm2Id = new TextDecoder('utf-8', { fatal: true }).decode(raw.slice(6, 6 + bits / 8));
      var point = raw.slice(6 + bits / 8);
      if (!Sm2) throw new Error('未加载 sm2.js，无法核验 SM2 日志签名 sm2.js is not loaded: cannot check an SM2 log key');
      var bad = Sm2.publicKeyError(point);
      if (bad) throw new Error('日志公钥 log key: ' + bad);
      return { name: m[1], id: m[2], alg: 'sm2', sm2Id: sm2Id, typed: raw, publicKey: point };
    }
    throw new Error('日志公钥类型不受支持（本页支持 Ed25519 与 SM2） the log key is neither Ed25519 (0x01) nor SM2 (0xff "sm2")');
  }

  // key id = SHA-256(name ‖ 0x0A ‖ type ‖ key)[0:4]
  function noteKeyId(name, typed) {
    return sha256(concat(enc.encode(name), new Uint8Array([0x0a]), typed)).then(function (h) {
      return h.slice(0, 4);
    });
  }

  // Splits "<text>\n\n— name base64\n…" into text (through its final \n) and signature lines.
  function parseNote(note) {
    var cut = note.indexOf('\n\n');
    if (cut < 0) throw new Error('the note has no signature block');
    var text = note.slice(0, cut + 1);
    var sigs = note.slice(cut + 2).split('\n').filter(function (l) { return l !== ''; }).map(function (line) {
      var m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m) throw new Error('malformed signature line');
      var raw = b64(m[2]);
      if (raw.length < 5) throw new Error('signature line too short');
      // A log key's line is key id (4) ‖ 64-byte signature; a witness's cosignature/v1 line is key id (4) ‖
      // time (8, big-endian) ‖ Ed25519 signature (64).
      return { name: m[1], keyId: raw.slice(0, 4), sig: raw.slice(4), raw: raw };
    });
    var lines = text.split('\n');
    if (lines.length < 4) throw new Error('checkpoint text too short');
    if (!/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new Error('checkpoint size is not a decimal number');
    return { text: text, origin: lines[0], size: Number(lines[1]), root: b64(lines[2]), sigs: sigs };
  }

  // A listed witness (bundle member `witnesses`, format 1.2+): "<name>+<8 hex>+<base64(0x04 ‖ 32-byte key)>", key id
  // SHA-256(name ‖ 0x0A ‖ 0x04 ‖ key)[0:4] (C2SP tlog-cosignature/v1, docs/FORMAT.md §9).
  function parseWitnessKey(s) {
    var m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+={0,2})$/.exec(typeof s === 'string' ? s : '');
    if (!m) return null;
    var raw = b64(m[3]);
    if (raw.length !== 33 || raw[0] !== 4) return null;
    return { name: m[1], id: m[2], publicKey: raw.slice(1) };
  }

  // Whether a cosignature/v1 line verifies: Ed25519 over "cosignature/v1\ntime <t>\n" ‖ checkpoint text.
  function verifyCosignature(w, line, text) {
    if (line.raw.length !== 76) return Promise.resolve(false);
    var t = 0;
    for (var i = 4; i < 12; i++) t = t * 256 + line.raw[i];
    if (t > Number.MAX_SAFE_INTEGER) return Promise.resolve(false);
    var msg = concat(enc.encode('cosignature/v1\ntime ' + t + '\n'), text);
    return ed25519Verify(w.publicKey, line.raw.slice(12), msg);
  }

  // ---- UI --------------------------------------------------------------------------------------------------

  var results = {};

  function report(name, ok, detail) {
    results[name] = ok;
    var li = list.querySelector('[data-check="' + name + '"]');
    if (!li) return;
    li.classList.remove('pending', 'pass', 'fail');
    li.classList.add(ok ? 'pass' : 'fail');
    li.querySelector('.check-result').textContent = ok ? '通过 pass' : '未通过 fail';
    li.querySelector('.check-detail').textContent = detail || '';
  }

  function finish(error) {
    var names = Array.prototype.map.call(list.querySelectorAll('[data-check]'), function (li) { return li.dataset.check; });
    names.forEach(function (n) {
      if (!(n in results)) report(n, false, error ? '未能核验 not checked: ' + error : '未能核验 not checked');
    });
    var ok = names.every(function (n) { return results[n] === true; });
    verdict.classList.remove('pending');
    verdict.classList.add(ok ? 'ok' : 'bad');
    verdict.textContent = ok ? '全部通过 · all checks passed' : '核验未通过 · verification failed';
    verdict.dataset.result = ok ? 'pass' : 'fail';
  }

  function fetchText(url) {
    return fetch(url, { credentials: 'same-origin', cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
      return r.text();
    });
  }

  // ---- the checks ------------------------------------------------------------------------------------------

  // Bundle formats this page reads; only 1.4 and 1.5 may hold SM2 signer keys, and only 1.5 an SM2 log key
  // (issue 18).
  var FORMATS = ['siteledger-evidence/v1', 'siteledger-evidence/v1.1', 'siteledger-evidence/v1.2',
    'siteledger-evidence/v1.3', 'siteledger-evidence/v1.4', 'siteledger-evidence/v1.5'];
  var SM2_FORMATS = ['siteledger-evidence/v1.4', 'siteledger-evidence/v1.5'];
  var SM2_LOG_FORMAT = 'siteledger-evidence/v1.5';
  var Sm2 = window.siteledgerSm2;
  var SM2_DEFAULT_ID = '1234567812345678'; // GM/T 0009's default signer identity

  // A key's signature algorithm, from its enrollment record in the bundle (payload `alg`, `sm2_id`), which the
  // bundle's key entry repeats in format 1.4 (`alg` "sm2" and a declared `sm2_id`; an Ed25519 entry has neither):
  // { alg, id (SM2 only), label, short } or { error } (a reason a user can act on). A key without its enrollment
  // record is read from its entry alone (key_enrollment then fails on its own).
  function keyAlgorithm(k, byId, format) {
    var er = k.enrolled_by && byId[k.enrolled_by];
    var p = er && er.envelope && er.envelope.kind === 'ledger.key.enrolled.v1' ? er.envelope.payload : null;
    if (p !== null && typeof p !== 'object') p = null;
    var declared = p || k;
    var alg = 'alg' in declared ? declared.alg : 'ed25519';
    if (alg !== 'ed25519' && alg !== 'sm2') {
      return {
        error: '不支持的签名算法 unsupported signature algorithm alg = ' + JSON.stringify(alg) +
          '（本页支持 ed25519、sm2 · this page checks ed25519 and sm2）',
      };
    }
    if (alg === 'ed25519' && 'sm2_id' in declared) {
      return { error: 'sm2_id 只适用于 SM2 密钥 sm2_id is only allowed with alg "sm2" (this key is Ed25519)' };
    }
    var id = alg === 'sm2' ? ('sm2_id' in declared ? declared.sm2_id : SM2_DEFAULT_ID) : null;
    if (alg === 'sm2' && typeof id !== 'string') return { error: 'sm2_id 应为字符串 sm2_id must be a string' };
    // The key entry: no alg (Ed25519) or "sm2", an sm2_id only with "sm2", and the same key as the enrollment.
    var entryAlg = 'alg' in k ? k.alg : 'ed25519';
    var entryId = 'sm2_id' in k ? k.sm2_id : SM2_DEFAULT_ID;
    if (('alg' in k && k.alg !== 'sm2') || ('sm2_id' in k && k.alg !== 'sm2') || entryAlg !== alg ||
        (alg === 'sm2' && entryId !== id)) {
      return {
        error: '证据包的密钥条目与登记记录的算法或签名者身份不一致 the key entry (alg ' + JSON.stringify(k.alg) +
          ', sm2_id ' + JSON.stringify(k.sm2_id) + ') does not match the enrollment (alg ' + JSON.stringify(alg) +
          (id === null ? '' : ', identity ' + JSON.stringify(id)) + ')',
      };
    }
    if (alg === 'ed25519') return { alg: 'ed25519', label: '签名算法：Ed25519 · algorithm Ed25519', short: 'Ed25519' };
    if (SM2_FORMATS.indexOf(format) < 0) {
      return { error: 'SM2 密钥只能出现在 1.4 及以后版本的证据包中 an SM2 key needs bundle format ' + SM2_FORMATS[0] +
        ' or later, this one is ' + format };
    }
    if (!Sm2) return { error: '未加载 sm2.js，无法核验 SM2 签名 sm2.js is not loaded: cannot check SM2' };
    if (enc.encode(id).length > 8191) return { error: 'sm2_id 超过 8191 字节 sm2_id is longer than 8191 bytes' };
    return {
      alg: 'sm2',
      id: id,
      label: id === SM2_DEFAULT_ID ?
        '签名算法：SM2（SM3，GM/T 0009 默认身份） · algorithm SM2 with SM3, default identity' :
        '签名算法：SM2（SM3，签名者身份 ' + id + '） · algorithm SM2 with SM3, identity ' + JSON.stringify(id),
      short: 'SM2',
    };
  }

  // The key id `publicKey` (bytes) has under `algo`, or why it has none: Promise of { keyId } or { error }.
  function keyIdOf(publicKey, algo) {
    if (algo.alg === 'sm2') {
      var bad = Sm2.publicKeyError(publicKey);
      if (bad) return Promise.resolve({ error: bad });
      return Sm2.keyId(publicKey, algo.id).then(function (kid) { return { keyId: kid }; });
    }
    if (publicKey.length !== 32) return Promise.resolve({ error: 'Ed25519 公钥应为 32 字节 public key is not 32 bytes' });
    return sha256(concat(new Uint8Array([1]), publicKey)).then(function (h) { return { keyId: hex(h.slice(0, 16)) }; });
  }

  var KEY_ID_RULE = {
    ed25519: 'key id ≠ SHA-256(0x01 ‖ public key)[0:16]',
    sm2: 'key id ≠ SHA-256(0xff ‖ "sm2" ‖ ENTL_A ‖ ID_A ‖ public key)[0:16]',
  };

  function verifyRecordSignature(envelope, keysById, byId, format) {
    var key = keysById[envelope.signer];
    if (!key) return Promise.resolve('签名密钥不在证据包中 signer key not in the bundle');
    var algo = keyAlgorithm(key, byId, format);
    if (algo.error) return Promise.resolve(algo.error);
    var pk = b64(key.public_key);
    return keyIdOf(pk, algo).then(function (kid) {
      if (kid.error) return kid.error;
      if (kid.keyId !== envelope.signer) return KEY_ID_RULE[algo.alg];
      var unsigned = {};
      Object.keys(envelope).forEach(function (k) { if (k !== 'sig') unsigned[k] = envelope[k]; });
      var msg = concat(enc.encode('siteledger-envelope-v1'), new Uint8Array([0]), enc.encode(canonical(unsigned)));
      var sig = b64(envelope.sig);
      if (algo.alg === 'sm2') return Sm2.check(pk, algo.id, msg, sig);
      return ed25519Verify(pk, sig, msg).then(function (ok) {
        return ok ? null : 'Ed25519 签名无效 invalid signature';
      });
    });
  }

  function verifyRecordInclusion(rec, cp) {
    return leafHash(rec.envelope).then(function (leaf) {
      return verifyInclusion(leaf, rec.index, cp.size, rec.inclusion.map(b64), cp.root).then(function (ok) {
        return { ok: ok, leaf: leaf };
      });
    });
  }

  function run() {
    if (!window.crypto || !crypto.subtle) {
      throw new Error('此浏览器环境不提供 WebCrypto（需 HTTPS 或本机访问）· WebCrypto needs a secure context (HTTPS or localhost)');
    }
    return Promise.all([fetchText(list.dataset.bundle), fetchText(list.dataset.logKeyUrl)]).then(function (got) {
      var bundle = JSON.parse(got[0]);
      if (FORMATS.indexOf(bundle.format) < 0) {
        throw new Error('本页不支持证据包格式 ' + JSON.stringify(bundle.format) + ' · unsupported bundle format (this page reads ' +
          FORMATS[0] + ' to ' + FORMATS[FORMATS.length - 1] + ')');
      }
      var published = got[1].trim();
      var logKey = parseLogKey(published);
      var rec = (bundle.records || []).filter(function (r) { return r.envelope && r.envelope.id === eventId; })[0];
      if (!rec) throw new Error('证据包中没有这条记录 the bundle does not hold this record');
      envelopeEl.textContent = JSON.stringify(rec.envelope, null, 2);
      var keysById = {};
      (bundle.keys || []).forEach(function (k) { keysById[k.key_id] = k; });
      var byId = {};
      (bundle.records || []).forEach(function (r) { byId[r.envelope.id] = r; });

      // log key
      return noteKeyId(logKey.name, logKey.typed).then(function (kid) {
        var sm2Log = logKey.alg === 'sm2';
        var formatOk = sm2Log === (bundle.format === SM2_LOG_FORMAT);
        var ok = bundle.log_key === published && hex(kid) === logKey.id && formatOk;
        report('log_key', ok, ok ? published + (sm2Log ? ' · SM2 日志公钥 SM2 log key' : '') :
          (formatOk ? 'bundle: ' + bundle.log_key + ' · published: ' + published :
            'SM2 日志公钥只能出现在 1.5 版证据包中，1.5 版证据包只用于 SM2 日志公钥 an SM2 log key needs bundle format ' +
            SM2_LOG_FORMAT + ' and that format needs one; this bundle is ' + bundle.format));

        // checkpoint signature: Ed25519, or SM2 over SM3(Z_A ‖ text) with the log key's identity
        // Every other line must be a valid cosignature by a witness the bundle lists (as siteledger-verify's check 3).
        var cp = parseNote(bundle.checkpoint);
        var text = enc.encode(cp.text);
        var witnesses = (Array.isArray(bundle.witnesses) ? bundle.witnesses : []).map(parseWitnessKey);
        var logLines = 0, cosigned = [];
        var sigChecks = cp.sigs.map(function (s) {
          if (s.name === logKey.name && equal(s.keyId, kid)) {
            logLines++;
            if (s.sig.length !== 64) return Promise.resolve(false);
            if (sm2Log) return Promise.resolve(Sm2.check(logKey.publicKey, logKey.sm2Id, text, s.sig) === null);
            return ed25519Verify(logKey.publicKey, s.sig, text);
          }
          var w = witnesses.filter(function (w) { return w && w.name === s.name && w.id === hex(s.keyId); })[0];
          if (!w) return Promise.resolve(false);
          return verifyCosignature(w, s, text).then(function (ok) {
            if (ok) cosigned.push(w.name);
            return ok;
          });
        });
        return Promise.all(sigChecks).then(function (oks) {
          var sigOk = logLines === 1 && oks.every(Boolean) && cp.origin === logKey.name;
          report('checkpoint_signature', sigOk,
            (sigOk ? '' : '签名或来源不符 bad signature or origin · ') + cp.origin + ' · tree size ' + cp.size + ' · root ' + hex(cp.root) +
            (sm2Log ? ' · 签名算法：SM2（SM3，签名者身份 ' + logKey.sm2Id + '） · algorithm SM2 with SM3' : '') +
            (cosigned.length ? ' · 见证人副署 witness cosignatures: ' + cosigned.join(', ') : ''));
          if (!sigOk) throw new Error('检查点签名未通过 checkpoint signature failed');
          return cp;
        });
      }).then(function (cp) {
        // inclusion of this record
        return verifyRecordInclusion(rec, cp).then(function (inc) {
          report('inclusion', inc.ok, (inc.ok ? '' : '与检查点根哈希不符 does not lead to the checkpoint root · ') + 'leaf ' + rec.index + ' of ' + cp.size + ' · leaf hash ' + hex(inc.leaf) +
            ' · ' + rec.inclusion.length + ' hashes');
          // signature of this record
          return verifyRecordSignature(rec.envelope, keysById, byId, bundle.format);
        }).then(function (err) {
          var signer = keysById[rec.envelope.signer];
          var algo = signer ? keyAlgorithm(signer, byId, bundle.format) : null;
          report('signature', err === null, (err === null ? '' : err + ' · ') + 'signer ' + rec.envelope.signer +
            ' · seq ' + rec.envelope.seq + (algo && algo.label ? ' · ' + algo.label : ''));
          // enrollment of every key: its record names it, and that record is signed and included; the key's
          // algorithm is known and its key id follows that algorithm's rule
          var problems = [];
          var checks = (bundle.keys || []).map(function (k) {
            var er = k.enrolled_by && byId[k.enrolled_by];
            if (!er || er.envelope.kind !== 'ledger.key.enrolled.v1' ||
                er.envelope.payload.key_id !== k.key_id || er.envelope.payload.public_key !== k.public_key) {
              problems.push(k.key_id.slice(0, 8) + ': 无登记记录 no matching enrollment');
              return Promise.resolve();
            }
            var algo = keyAlgorithm(k, byId, bundle.format);
            var keyId = algo.error ? Promise.resolve({ error: algo.error }) : keyIdOf(b64(k.public_key), algo);
            return Promise.all([
              keyId,
              verifyRecordSignature(er.envelope, keysById, byId, bundle.format),
              verifyRecordInclusion(er, cp),
            ]).then(function (x) {
              if (x[0].error) problems.push(k.key_id.slice(0, 8) + ': ' + x[0].error);
              else if (x[0].keyId !== k.key_id) problems.push(k.key_id.slice(0, 8) + ': ' + KEY_ID_RULE[algo.alg]);
              if (x[1] !== null) problems.push(k.key_id.slice(0, 8) + ' 的登记记录 enrollment record: ' + x[1]);
              if (!x[2].ok) problems.push(k.key_id.slice(0, 8) + ': 登记记录包含证明无效 enrollment not included');
            });
          });
          return Promise.all(checks).then(function () {
            // A key signs only after its enrollment is in the log (FORMAT.md §7.1 check 9, order part).
            bundle.records.forEach(function (r) {
              var k = keysById[r.envelope.signer];
              var er = k && k.enrolled_by && byId[k.enrolled_by];
              if (er && er.index > r.index) problems.push(r.envelope.signer.slice(0, 8) + ': 先签名后登记 signed before enrollment');
            });
            report('key_enrollment', problems.length === 0 && checks.length > 0,
              problems.length ? problems.join(' · ') : checks.length + ' 个密钥 keys: ' +
                bundle.keys.map(function (k) {
                  return k.key_id.slice(0, 8) + ' ' + keyAlgorithm(k, byId, bundle.format).short;
                }).join(', '));
          });
        });
      });
    });
  }

  var started;
  try {
    started = run();
  } catch (e) {
    started = Promise.reject(e);
  }
  started.then(function () { finish(null); }, function (e) {
    if (envelopeEl.textContent.indexOf('加载中') === 0) envelopeEl.textContent = '—';
    finish(e && e.message ? e.message : String(e));
  });
})();
