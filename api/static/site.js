// 设备监测 pages — live: follow the feed and, when a site record arrives, re-render the page's live part
// (#site-live) from the server (at most every 3 s). The server renders charts and thresholds, so the page stays
// the single source of what is shown.
(function () {
  'use strict';
  var live = document.getElementById('live');
  var target = document.getElementById('site-live');
  if (!live || !target || !window.EventSource) return;
  var stateEl = document.getElementById('live-state');
  var countEl = document.getElementById('live-count');
  var received = 0;
  var SITE = /^(env|crane|hoist|meter|video|gateway|ledger\.signer)\./;
  var pending = false;
  var last = 0;

  function setState(on, text) {
    live.classList.toggle('on', on);
    live.classList.toggle('off', !on);
    stateEl.textContent = text;
  }

  function refresh() {
    pending = false;
    last = Date.now();
    fetch(window.location.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (body) {
        if (!body) return;
        var doc = new DOMParser().parseFromString(body, 'text/html');
        var fresh = doc.getElementById('site-live');
        if (fresh) target.replaceChildren.apply(target, Array.prototype.slice.call(fresh.childNodes));
      })
      .catch(function () { /* the next record retries */ });
  }

  function schedule() {
    if (pending) return;
    pending = true;
    setTimeout(refresh, Math.max(0, 3000 - (Date.now() - last)));
  }

  var es = new EventSource(live.dataset.siteFeed);
  es.onopen = function () { setState(true, '实时 live'); };
  es.onerror = function () {
    setState(false, es.readyState === EventSource.CLOSED ? '已断开 disconnected' : '重新连接中 reconnecting');
  };
  es.addEventListener('record', function (ev) {
    var r;
    try { r = JSON.parse(ev.data); } catch (e) { return; }
    received += 1;
    countEl.textContent = String(received);
    setState(true, '实时 live');
    if (SITE.test(r.kind || '')) schedule();
  });
  window.addEventListener('pagehide', function () { es.close(); });
})();
