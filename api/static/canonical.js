// 宁波市智慧工地监管平台 — canonical JSON (docs/FORMAT.md §2: RFC 8785 for integer-only documents), the one copy
// the pages share: the record checker (verify.js) and the people's signing pages (people.js) both use it, and it
// must give the bytes signer/src/canonical.rs gives (tests/tests/people.rs signs in the page and verifies in Rust).
//
// Keys sorted by UTF-16 code units (what Array.prototype.sort does by default); JSON.stringify escapes strings
// exactly as JCS does. Numbers must be safe integers.
(function () {
  'use strict';

  function canonical(v) {
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) throw new Error('number ' + v + ' is not an integer within ±(2^53−1)');
      return JSON.stringify(v);
    }
    if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
    if (typeof v === 'object') {
      return '{' + Object.keys(v).sort().map(function (k) {
        return JSON.stringify(k) + ':' + canonical(v[k]);
      }).join(',') + '}';
    }
    throw new Error('value of type ' + typeof v + ' cannot be canonicalized');
  }

  window.siteledgerCanonical = canonical;
})();
