// 宁波市智慧工地监管平台 — people sign in the browser (docs/PEOPLE.md).
//
// The person's Ed25519 key is generated here with WebCrypto, non-extractable, and kept in this browser's
// IndexedDB; it never leaves the page. Every record is built, canonicalised (canonical.js, docs/FORMAT.md §2) and
// signed here, then posted to POST /v1/events like any other signed record. Sign-in is a signed challenge.
// An administrator may import the organisation's key file here once (it becomes a non-extractable key too; the
// file's bytes are not kept and never sent).
//
// Pages: /people (key, enrolment request, sign-in), /people/admin (approve and revoke); the forms of
// /people/forms/{form} are people_forms.js (what each signs) and people_sign.js (building, signing, answers).
// No external script, no build step.
(function () {
  'use strict';

  var enc = new TextEncoder();
  var canonical = window.siteledgerCanonical;
  var DB_NAME = 'siteledger-people';
  var STORE = 'keys';
  // The person's own key, and (for an administrator) the organisation's.
  var PERSON = 'person';
  var ORG = 'org';

  function $(id) { return document.getElementById(id); }

  function say(el, text, kind) {
    if (!el) return;
    el.textContent = text;
    el.className = 'people-msg' + (kind ? ' ' + kind : '');
  }

  // ---- bytes ----------------------------------------------------------------------------------------------

  function concat() {
    var n = 0, i;
    for (i = 0; i < arguments.length; i++) n += arguments[i].length;
    var out = new Uint8Array(n), o = 0;
    for (i = 0; i < arguments.length; i++) { out.set(arguments[i], o); o += arguments[i].length; }
    return out;
  }

  function b64(bytes) {
    var s = '';
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s);
  }

  function unb64(s) {
    var bin = atob(s.replace(/-/g, '+').replace(/_/g, '/')), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function hex(bytes) {
    var s = '';
    for (var i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
    return s;
  }

  function unhex(s) {
    var out = new Uint8Array(s.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
    return out;
  }

  function sha256(bytes) {
    return crypto.subtle.digest('SHA-256', bytes).then(function (b) { return new Uint8Array(b); });
  }

  // FORMAT.md §3: the first 16 bytes of SHA-256(0x01 ‖ public key), lowercase hex.
  function keyIdOf(publicKey) {
    return sha256(concat(new Uint8Array([1]), publicKey)).then(function (h) { return hex(h.slice(0, 16)); });
  }

  // ---- time and ids ---------------------------------------------------------------------------------------

  // Now in China Standard Time, as FORMAT.md §4 writes times: 2026-05-01T09:30:00.123+08:00.
  function nowShanghai(offsetMs) {
    var t = new Date(Date.now() + (offsetMs || 0) + 8 * 3600 * 1000).toISOString();
    return t.replace('Z', '+08:00');
  }

  // A <input type="datetime-local"> value (local wall time in Ningbo) as RFC 3339 with +08:00.
  function localToShanghai(v) {
    if (!v) return '';
    return (v.length === 16 ? v + ':00' : v) + '+08:00';
  }

  // RFC 9562 UUID version 7: 48-bit Unix milliseconds, version 7, variant 10, random rest.
  function uuid7() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    var ms = Date.now();
    for (var i = 5; i >= 0; i--) { b[i] = ms % 256; ms = Math.floor(ms / 256); }
    b[6] = (b[6] & 0x0f) | 0x70;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = hex(b);
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  // ---- the key store (IndexedDB) --------------------------------------------------------------------------

  function db() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE, { keyPath: 'slot' }); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function idb(mode, fn) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var tx = d.transaction(STORE, mode);
        var req = fn(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(req && req.result); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }

  function loadKey(slot) { return idb('readonly', function (s) { return s.get(slot); }); }
  function saveKey(rec) { return idb('readwrite', function (s) { return s.put(rec); }); }
  function forgetKey(slot) { return idb('readwrite', function (s) { return s.delete(slot); }); }

  // Does this browser sign Ed25519 with WebCrypto and keep keys in IndexedDB?
  function supported() {
    if (!window.crypto || !crypto.subtle || !window.indexedDB || !window.isSecureContext) return Promise.resolve(false);
    return crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])
      .then(function () { return true; }, function () { return false; });
  }

  function showSupport(ok) {
    var el = $('support');
    if (!el) return;
    if (ok) {
      say(el, '本浏览器支持 WebCrypto Ed25519：个人密钥在本机生成并保存，私钥不可导出、不会发送。' +
        ' This browser supports WebCrypto Ed25519: your key is made and kept here, never exported or sent.', 'ok');
    } else {
      say(el, '本浏览器不支持 WebCrypto Ed25519 签名（或不是安全连接 HTTPS），无法在此生成个人密钥、签名记录。' +
        '请使用新版 Chrome、Edge、Firefox 或 Safari，并通过 HTTPS 访问。' +
        ' This browser cannot sign with WebCrypto Ed25519 (or the page is not served over HTTPS): ' +
        'use a current Chrome, Edge, Firefox or Safari over HTTPS.', 'error');
    }
    document.body.dataset.webcrypto = ok ? 'yes' : 'no';
  }

  // A new non-extractable key for `slot`; the public half (always exportable) is kept beside it.
  function generate(slot) {
    return crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']).then(function (pair) {
      return crypto.subtle.exportKey('raw', pair.publicKey).then(function (raw) {
        var pub = new Uint8Array(raw);
        return keyIdOf(pub).then(function (kid) {
          var rec = { slot: slot, keyId: kid, publicKey: b64(pub), privateKey: pair.privateKey, created: nowShanghai() };
          return saveKey(rec).then(function () { return rec; });
        });
      });
    });
  }

  // The organisation's key file (`siteledger-ed25519-secret-v1 <base64 seed>`, FORMAT.md §3) becomes a
  // non-extractable key in this browser. The public key is read from a short-lived extractable copy that is
  // dropped at once; neither the file nor the seed is kept or sent anywhere.
  var PKCS8_ED25519 = unhex('302e020100300506032b657004220420');

  function importKeyFile(text) {
    var m = /^siteledger-ed25519-secret-v1 ([A-Za-z0-9+/]{43}=)\s*$/.exec(text);
    if (!m) return Promise.reject(new Error('不是 SiteLedger 密钥文件 / not a SiteLedger key file'));
    var seed = unb64(m[1]);
    var pkcs8 = concat(PKCS8_ED25519, seed);
    seed.fill(0);
    return crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, true, ['sign']).then(function (tmp) {
      return crypto.subtle.exportKey('jwk', tmp);
    }).then(function (jwk) {
      var pub = unb64(jwk.x);
      jwk.d = '';
      return crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']).then(function (priv) {
        pkcs8.fill(0);
        return keyIdOf(pub).then(function (kid) {
          var rec = { slot: ORG, keyId: kid, publicKey: b64(pub), privateKey: priv, created: nowShanghai() };
          return saveKey(rec).then(function () { return rec; });
        });
      });
    });
  }

  function signBytes(rec, bytes) {
    return crypto.subtle.sign({ name: 'Ed25519' }, rec.privateKey, bytes).then(function (s) { return new Uint8Array(s); });
  }

  // ---- HTTP -----------------------------------------------------------------------------------------------

  function csrf() {
    var m = document.querySelector('meta[name="siteledger-csrf"]');
    return m ? m.content : '';
  }

  function call(method, url, body, raw) {
    var headers = { 'X-SiteLedger-CSRF': csrf() };
    var opts = { method: method, credentials: 'same-origin', cache: 'no-store', headers: headers };
    if (body !== undefined) {
      if (raw) { opts.body = body; } else { headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(body); }
    }
    return fetch(url, opts).then(function (r) {
      return r.text().then(function (t) {
        var j = null;
        try { j = t ? JSON.parse(t) : null; } catch (e) { j = null; }
        if (!r.ok) {
          var err = new Error((j && (j.message || j.error)) || ('HTTP ' + r.status));
          err.status = r.status;
          throw err;
        }
        return j;
      });
    });
  }

  // ---- envelopes (FORMAT.md §4) ---------------------------------------------------------------------------

  function signEnvelope(rec, item, seq, prev) {
    var env = {
      v: 1, id: uuid7(), stream: item.stream, kind: item.kind, occurred_at: item.occurred_at || nowShanghai(),
      signer: rec.keyId, seq: seq, prev: prev, payload: item.payload
    };
    var msg = concat(enc.encode('siteledger-envelope-v1'), new Uint8Array([0]), enc.encode(canonical(env)));
    return signBytes(rec, msg).then(function (sig) { env.sig = b64(sig); return env; });
  }

  function leafHash(env) {
    return sha256(concat(new Uint8Array([0]), enc.encode(canonical(env)))).then(hex);
  }

  // Signs `items` as the next records of `rec`'s chain (as the server reports its head) and posts them in one
  // batch. Two tabs of one person take turns (a Web Lock per key), so they never sign the same sequence number
  // twice; if the chain moved anyway (another device), the head is read again and the batch signed once more.
  function signAndPost(rec, items) {
    function attempt(retry) {
      return call('GET', '/v1/people/keys/' + rec.keyId).then(function (head) {
        if (!head.enrolled) throw new Error('此密钥尚未登记 / this key is not enrolled yet');
        var seq = head.next_seq, prev = head.prev, envs = [];
        var chain = Promise.resolve();
        items.forEach(function (item) {
          chain = chain.then(function () {
            return signEnvelope(rec, item, seq, prev).then(function (env) {
              envs.push(env);
              seq += 1;
              return leafHash(env).then(function (h) { prev = h; });
            });
          });
        });
        return chain.then(function () { return call('POST', '/v1/events', envs); }).then(function (answer) {
          var moved = answer.results.some(function (r) { return r.code === 'chain_mismatch'; });
          if (moved && retry) return attempt(false);
          return { envelopes: envs, answer: answer };
        });
      });
    }
    if (navigator.locks && navigator.locks.request) {
      return navigator.locks.request('siteledger-chain-' + rec.keyId, function () { return attempt(true); });
    }
    return attempt(true);
  }

  // ---- sign-in --------------------------------------------------------------------------------------------

  function signIn(slot) {
    return loadKey(slot).then(function (rec) {
      if (!rec) throw new Error('本机没有密钥 / no key in this browser');
      return call('POST', '/v1/people/challenge', { key_id: rec.keyId }).then(function (ch) {
        var msg = concat(enc.encode(ch.prefix), new Uint8Array([0]), enc.encode(ch.nonce));
        return signBytes(rec, msg).then(function (sig) {
          return call('POST', '/v1/people/session', { key_id: rec.keyId, nonce: ch.nonce, signature: b64(sig) });
        });
      }).then(function (s) {
        // The session's CSRF token, for this page's next requests (pages rendered later carry it themselves).
        var m = document.querySelector('meta[name="siteledger-csrf"]');
        if (m) m.content = s.csrf;
        return s;
      });
    });
  }

  // ---- /people --------------------------------------------------------------------------------------------

  var ROLE_ZH = { inspector: '监督员', staff: '企业人员', tester: '检测人员' };

  function refreshHome() {
    var box = $('key-status');
    return loadKey(PERSON).then(function (rec) {
      document.body.dataset.keyId = rec ? rec.keyId : '';
      $('enrol-form').hidden = !rec;
      $('login-button').hidden = !rec;
      if (!rec) {
        say(box, '本机还没有个人密钥。 No personal key in this browser yet.');
        document.body.dataset.keyState = 'none';
        return;
      }
      $('key-id').textContent = rec.keyId;
      return call('GET', '/v1/people/keys/' + rec.keyId).then(function (st) {
        var state = st.enrolled ? (st.enrolled.revoked_at ? 'revoked' : 'enrolled') : (st.pending ? 'pending' : 'new');
        document.body.dataset.keyState = state;
        var text;
        if (state === 'enrolled') {
          text = '已登记：' + st.enrolled.subject + '（' + (ROLE_ZH[st.enrolled.role] || st.enrolled.role) + '）。可以登录签名。 Enrolled: you may sign in.';
        } else if (state === 'revoked') {
          text = '此密钥已吊销（' + st.enrolled.revoked_at + '）：请生成新密钥并重新申请。 Revoked: make a new key and ask again.';
        } else if (state === 'pending') {
          text = '已提交申请，等待单位管理员审批：' + st.pending.subject + '。 Waiting for your administrator.';
        } else {
          text = '密钥已生成，尚未申请登记。 Key made; ask your organisation to enrol it.';
        }
        say(box, text, state === 'revoked' ? 'error' : (state === 'enrolled' ? 'ok' : ''));
        $('login-button').disabled = state !== 'enrolled';
      });
    });
  }

  function initHome() {
    supported().then(function (ok) {
      showSupport(ok);
      if (!ok) { $('gen-key').disabled = true; return; }
      refreshHome().catch(function (e) { say($('key-status'), e.message, 'error'); });
      $('gen-key').addEventListener('click', function () {
        loadKey(PERSON).then(function (old) {
          if (old && !window.confirm('替换本机现有密钥？旧密钥将无法再使用。 Replace the key in this browser?')) return null;
          return generate(PERSON);
        }).then(function (rec) { if (rec) return refreshHome(); })
          .catch(function (e) { say($('key-status'), e.message, 'error'); });
      });
      $('enrol-form').addEventListener('submit', function (ev) {
        ev.preventDefault();
        var f = ev.target;
        loadKey(PERSON).then(function (rec) {
          return call('POST', '/v1/people/enrolments', {
            public_key: rec.publicKey, role: f.role.value, organisation: f.organisation.value.trim(),
            handle: f.handle.value.trim(), name: f.name.value.trim()
          });
        }).then(function () { return refreshHome(); })
          .then(function () { say($('enrol-msg'), '申请已提交。 Request sent.', 'ok'); })
          .catch(function (e) { say($('enrol-msg'), e.message, 'error'); });
      });
      $('login-button').addEventListener('click', function () {
        signIn(PERSON).then(function (s) {
          say($('login-msg'), '已登录：' + s.name + '。 Signed in.', 'ok');
          $('form-links').hidden = false;
        }).catch(function (e) { say($('login-msg'), e.message, 'error'); });
      });
    });
  }

  // ---- /people/admin --------------------------------------------------------------------------------------

  function cell(tr, text, cls) {
    var td = document.createElement('td');
    td.textContent = text == null ? '' : String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function refreshAdmin() {
    return call('GET', '/v1/people/enrolments').then(function (list) {
      var pending = $('pending').querySelector('tbody'), enrolled = $('enrolled').querySelector('tbody');
      pending.textContent = '';
      enrolled.textContent = '';
      list.pending.forEach(function (r) {
        var tr = document.createElement('tr');
        tr.dataset.keyId = r.key_id;
        cell(tr, r.name);
        cell(tr, ROLE_ZH[r.role] || r.role);
        cell(tr, r.subject, 'mono');
        cell(tr, r.key_id, 'mono');
        var td = cell(tr, '');
        var b = document.createElement('button');
        b.type = 'button';
        b.className = 'button approve';
        b.textContent = '批准并签名登记 approve';
        b.addEventListener('click', function () { approve(r); });
        td.appendChild(b);
        pending.appendChild(tr);
      });
      list.enrolled.forEach(function (k) {
        var tr = document.createElement('tr');
        tr.dataset.keyId = k.key_id;
        cell(tr, k.name || '');
        cell(tr, ROLE_ZH[k.role] || k.role);
        cell(tr, k.subject, 'mono');
        cell(tr, k.key_id, 'mono');
        var td = cell(tr, k.revoked_at ? '已吊销 ' + k.revoked_at : '');
        if (!k.revoked_at) {
          var b = document.createElement('button');
          b.type = 'button';
          b.className = 'button revoke';
          b.textContent = '吊销 revoke';
          b.addEventListener('click', function () { revoke(k); });
          td.appendChild(b);
        }
        enrolled.appendChild(tr);
      });
      document.body.dataset.pending = String(list.pending.length);
    });
  }

  function withOrgKey() {
    return loadKey(ORG).then(function (rec) {
      if (!rec) throw new Error('请先导入单位密钥 / import the organisation key first');
      return rec;
    });
  }

  function answerText(res) {
    return res.answer.results.map(function (r) {
      return r.status === 'rejected' ? (r.code + ': ' + r.message) : ('已写入日志 position ' + r.position);
    }).join('; ');
  }

  function approve(r) {
    var msg = $('admin-msg');
    withOrgKey().then(function (org) {
      var now = nowShanghai();
      return signAndPost(org, [{
        kind: 'ledger.key.enrolled.v1', stream: 'registry/keys', occurred_at: now,
        payload: { key_id: r.key_id, public_key: r.public_key, subject: r.subject, role: r.role, valid_from: now, valid_until: null }
      }]);
    }).then(function (res) {
      var ok = res.answer.rejected === 0;
      say(msg, (ok ? '已登记 ' : '被拒绝 ') + r.subject + '：' + answerText(res), ok ? 'ok' : 'error');
      return refreshAdmin();
    }).catch(function (e) { say(msg, e.message, 'error'); });
  }

  function revoke(k) {
    var msg = $('admin-msg');
    var reason = ($('revoke-reason') && $('revoke-reason').value.trim()) || '设备遗失 lost device';
    withOrgKey().then(function (org) {
      var now = nowShanghai();
      return signAndPost(org, [{
        kind: 'ledger.key.revoked.v1', stream: 'registry/keys', occurred_at: now,
        payload: { key_id: k.key_id, revoked_at: now, reason: reason || '吊销 revoked' }
      }]);
    }).then(function (res) {
      var ok = res.answer.rejected === 0;
      say(msg, (ok ? '已吊销 ' : '被拒绝 ') + k.subject + '：' + answerText(res), ok ? 'ok' : 'error');
      return refreshAdmin();
    }).catch(function (e) { say(msg, e.message, 'error'); });
  }

  function showOrgKey() {
    return loadKey(ORG).then(function (rec) {
      say($('org-key-status'), rec ? '本机已导入单位密钥 ' + rec.keyId : '本机尚未导入单位密钥。 No organisation key in this browser.', rec ? 'ok' : '');
      document.body.dataset.orgKeyId = rec ? rec.keyId : '';
    });
  }

  function initAdmin() {
    supported().then(function (ok) {
      showSupport(ok);
      showOrgKey();
      refreshAdmin().catch(function (e) { say($('admin-msg'), e.message, 'error'); });
      $('org-key-file').addEventListener('change', function (ev) {
        var file = ev.target.files && ev.target.files[0];
        if (!file) return;
        file.text().then(importKeyFile).then(function () {
          ev.target.value = '';
          return showOrgKey();
        }).catch(function (e) { say($('org-key-status'), e.message, 'error'); });
      });
      $('org-login').addEventListener('click', function () {
        signIn(ORG).then(function (s) {
          say($('org-key-status'), '已登录：' + s.name + '。 Signed in.', 'ok');
          return refreshAdmin();
        })
          .catch(function (e) { say($('org-key-status'), e.message, 'error'); });
      });
      $('org-forget').addEventListener('click', function () {
        forgetKey(ORG).then(showOrgKey);
      });
    });
  }

  // ---- start ----------------------------------------------------------------------------------------------

  // For the form pages (people_forms.js, people_sign.js), tests and the curious: the page's canonical form,
  // signer and helpers, nothing secret.
  window.siteledgerPeople = {
    canonical: canonical, signEnvelope: signEnvelope, loadKey: loadKey, generate: generate, keyIdOf: keyIdOf,
    signAndPost: signAndPost, $: $, say: say, call: call, nowShanghai: nowShanghai, localToShanghai: localToShanghai,
    supported: supported, showSupport: showSupport, PERSON: PERSON, ORG: ORG
  };

  var page = document.body.querySelector('[data-people-page]');
  var which = page && page.dataset.peoplePage;
  if (which === 'home') initHome();
  else if (which === 'admin') initAdmin();
})();
