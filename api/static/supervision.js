// 监管协同 pages (/command…): live over the feed. The page's live box (id "sv-live") names the feed with the
// supervision kind prefixes; on each record we count it and reload the page a few seconds later (once per burst),
// so the server recomputes overdue and SLA states for the new records. A <meta refresh> covers the passing of time
// when nothing arrives.
(function () {
  'use strict';
  var box = document.getElementById('sv-live');
  if (!box || !window.EventSource) return;
  var stateEl = document.getElementById('sv-live-state');
  var countEl = document.getElementById('sv-live-count');
  var received = 0;
  var timer = null;

  function setState(on, text) {
    box.classList.toggle('on', on);
    box.classList.toggle('off', !on);
    stateEl.textContent = text;
  }

  var es = new EventSource(box.dataset.feed);
  es.onopen = function () { setState(true, '实时 live'); };
  es.onerror = function () {
    setState(false, es.readyState === EventSource.CLOSED ? '已断开 disconnected' : '重新连接中 reconnecting');
  };
  es.addEventListener('record', function () {
    received += 1;
    countEl.textContent = String(received);
    if (!timer) {
      timer = setTimeout(function () { es.close(); window.location.reload(); }, 4000);
    }
  });
  window.addEventListener('pagehide', function () { es.close(); });
})();
