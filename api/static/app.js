// 宁波市智慧工地监管平台 — live updates for the overview and project pages.
//
// The page marks its live box with data-feed="/v1/feed…"; we open an EventSource on it (same origin, so the
// login cookie goes along) and, for each `record` event ({position, event_id, stream, kind, occurred_at, signer,
// payload}), bump the counter and update what the page shows. No framework, no build step.
(function () {
  'use strict';

  var live = document.getElementById('live');
  if (!live || !window.EventSource) return;

  var dot = live; // the box carries the on/off class
  var stateEl = document.getElementById('live-state');
  var countEl = document.getElementById('live-count');
  var received = 0;

  // ---- helpers -------------------------------------------------------------------------------------------

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function link(href, text, cls) {
    var a = el('a', cls, text);
    a.href = href;
    return a;
  }

  // "2026-03-02T10:00:00+08:00" → "2026-03-02 10:00:00" in Beijing time (UTC+8), like the server renders it.
  function beijing(iso) {
    var t = Date.parse(iso);
    if (isNaN(t)) return iso;
    var d = new Date(t + 8 * 3600 * 1000);
    function p(n) { return (n < 10 ? '0' : '') + n; }
    return d.getUTCFullYear() + '-' + p(d.getUTCMonth() + 1) + '-' + p(d.getUTCDate()) + ' ' +
      p(d.getUTCHours()) + ':' + p(d.getUTCMinutes()) + ':' + p(d.getUTCSeconds());
  }

  function projectOf(stream) {
    var m = /^project\/([^/]+)\//.exec(stream || '');
    return m ? m[1] : null;
  }

  var SUBSYSTEMS = {
    env: '扬尘噪声', alarm: '告警', registry: '登记', ledger: '账本', labor: '实名制', labour: '实名制',
    worker: '实名制', workers: '实名制', realname: '实名制', attendance: '实名制', wage: '工资专户', wages: '工资专户',
    payroll: '工资专户', crane: '起重机械', lifting: '起重机械', hoist: '起重机械', video: '远程视频', safety: '安全质量',
    quality: '安全质量', inspection: '安全质量', testing: '质量检测', lab: '质量检测', hazard: '危大工程',
    hazardous: '危大工程', utility: '用电用水', power: '用电用水', water: '用电用水', meter: '用电用水', bim: 'BIM施工',
    rating: '星级评定', star: '星级评定'
  };
  var CATEGORIES = { dust: '扬尘', noise: '噪声', crane: '起重机械', data_gap: '数据缺失', equivocation: '重复签名', offline: '设备离线' };
  var LEVELS = { violation: '违规', warning: '预警' };

  // A one-line summary of a live record (the server's own summary replaces it on reload).
  function summary(r) {
    var p = r.payload || {};
    if (/^alarm\.raised\./.test(r.kind)) {
      var s = (LEVELS[p.level] || '告警') + ' ' + (p.category || '') + ': ' + (p.message || '');
      if (p.value !== undefined) s += ' (' + p.value + (p.threshold !== undefined ? ' / 阈值 ' + p.threshold : '') + ')';
      return s;
    }
    if (/^alarm\.cleared\./.test(r.kind)) return '告警解除 ' + (p.alarm_id || '') + ': ' + (p.note || '');
    var parts = [];
    var metrics = [['pm10', 'PM10', 'µg/m³'], ['pm25', 'PM2.5', 'µg/m³'], ['pm2_5', 'PM2.5', 'µg/m³'],
      ['noise', '噪声', 'dB(A)'], ['temperature', '温度', '°C'], ['humidity', '湿度', '%'], ['wind_speed', '风速', 'm/s']];
    metrics.forEach(function (m) {
      Object.keys(p).forEach(function (k) {
        if (k.indexOf(m[0]) === 0 && parts.length < 6 && typeof p[k] !== 'object') parts.push(m[1] + ' ' + p[k] + ' ' + m[2]);
      });
    });
    if (parts.length) return parts.join(' ');
    Object.keys(p).slice(0, 4).forEach(function (k) {
      if (typeof p[k] !== 'object') parts.push(k + '=' + p[k]);
    });
    return parts.join(' ');
  }

  function bump(node) {
    if (!node) return;
    node.classList.remove('bump');
    void node.offsetWidth; // restart the animation
    node.classList.add('bump');
  }

  function addTo(node, delta) {
    if (!node) return;
    var n = parseInt(node.textContent.replace(/,/g, ''), 10) || 0;
    n = Math.max(0, n + delta);
    node.textContent = String(n);
    if (node.dataset.field === 'alarms-today' || node.id === 'total-alarms-today') node.classList.toggle('warn', n > 0);
    if (node.dataset.field === 'open-alarms' || node.id === 'total-open') node.classList.toggle('bad', n > 0);
    bump(node);
  }

  // ---- overview: latest alarms and per-district alarm counts ----------------------------------------------

  var projectDistricts = {}; // project id → [district code, name], for the pages' scope only
  try { projectDistricts = JSON.parse(live.dataset.projectDistricts || '{}'); } catch (e) { projectDistricts = {}; }
  var today = live.dataset.today || '';
  var alarmFeed = document.getElementById('alarm-feed');

  function card(district) {
    return district ? document.querySelector('.card.district[data-district="' + CSS.escape(district) + '"]') : null;
  }

  // The page carries the districts of the projects it shows only (a city has thousands); an alarm of another
  // project asks the API once for that project's district and name (null: not visible, or the lookup failed).
  var lookups = {};
  function withProject(project, then) {
    if (!project || projectDistricts[project] !== undefined) { then(project ? projectDistricts[project] : null); return; }
    if (!lookups[project]) {
      lookups[project] = [];
      fetch('/v1/projects/' + encodeURIComponent(project), { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (resp) { return resp.ok ? resp.json() : null; })
        .then(function (p) { return p && p.project ? [p.project.district, p.project.name] : null; }, function () { return null; })
        .then(function (known) {
          projectDistricts[project] = known;
          var waiting = lookups[project];
          delete lookups[project];
          waiting.forEach(function (f) { f(known); });
        });
    }
    lookups[project].push(then);
  }

  function onOverviewRecord(r) {
    if (!/^alarm\.(raised|cleared)\./.test(r.kind)) return;
    var project = projectOf(r.stream);
    withProject(project, function (known) { showOverviewRecord(r, project, known); });
  }

  function showOverviewRecord(r, project, known) { // known: [district code, project name] or null
    var district = known ? known[0] : null;
    var c = card(district);
    if (/^alarm\.raised\./.test(r.kind)) {
      var p = r.payload || {};
      if (beijing(r.occurred_at).slice(0, 10) === today) {
        addTo(c && c.querySelector('[data-field="alarms-today"]'), 1);
        addTo(document.getElementById('total-alarms-today'), 1);
      }
      addTo(c && c.querySelector('[data-field="open-alarms"]'), 1);
      addTo(document.getElementById('total-open'), 1);
      if (alarmFeed) {
        var li = el('li', 'alarm-item fresh');
        li.appendChild(el('span', 'badge ' + (p.level === 'violation' ? 'bad' : 'warn'), LEVELS[p.level] || '告警'));
        li.appendChild(project ? link('/projects/' + encodeURIComponent(project), known ? known[1] : project) : el('span', 'muted', '—'));
        var text = (CATEGORIES[p.category] || p.category || '') + ' · ' + (p.message || '');
        if (p.value !== undefined) text += '（' + p.value + (p.threshold !== undefined ? ' / 阈值 ' + p.threshold : '') + '）';
        li.appendChild(el('span', 'alarm-text', text));
        var meta = el('span', 'alarm-meta', beijing(r.occurred_at) + ' · ');
        meta.appendChild(link('/verify/' + encodeURIComponent(r.event_id), '核验'));
        li.appendChild(meta);
        alarmFeed.insertBefore(li, alarmFeed.firstChild);
        while (alarmFeed.children.length > 20) alarmFeed.removeChild(alarmFeed.lastChild);
        var empty = document.getElementById('alarm-empty');
        if (empty) empty.remove();
      }
    } else if (/^alarm\.cleared\./.test(r.kind)) {
      addTo(c && c.querySelector('[data-field="open-alarms"]'), -1);
      addTo(document.getElementById('total-open'), -1);
    }
  }

  // ---- project page: timeline rows and tiles --------------------------------------------------------------

  var timeline = document.getElementById('timeline');
  var liveRows = timeline && timeline.dataset.live === '1' ? timeline.querySelector('tbody') : null;

  function onProjectRecord(r) {
    var sub = (r.kind || '').split('.')[0];
    var tile = document.querySelector('.tile[data-subsystem="' + CSS.escape(sub) + '"]');
    if (tile) {
      addTo(tile.querySelector('[data-field="events"]'), 1);
      var last = tile.querySelector('[data-field="last"]');
      if (last) last.textContent = beijing(r.occurred_at);
    }
    addTo(document.getElementById('project-events'), 1);
    var lastEl = document.getElementById('project-last');
    if (lastEl) lastEl.textContent = beijing(r.occurred_at);
    if (!liveRows) return;
    if (liveRows.querySelector('tr[data-position="' + r.position + '"]')) return;
    var tr = el('tr', 'fresh');
    tr.dataset.position = String(r.position);
    var t = el('td', null, beijing(r.occurred_at));
    t.title = r.occurred_at;
    tr.appendChild(t);
    tr.appendChild(el('td', null, SUBSYSTEMS[sub] || '其他'));
    tr.appendChild(el('td', null, summary(r)));
    tr.appendChild(el('td', 'mono small', r.kind));
    var s = el('td', 'mono small', (r.signer || '').slice(0, 8));
    s.title = r.signer || '';
    tr.appendChild(s);
    tr.appendChild(el('td', 'num mono', r.position));
    var v = el('td');
    v.appendChild(link('/verify/' + encodeURIComponent(r.event_id), '核验 verify', 'verify-link'));
    tr.appendChild(v);
    liveRows.insertBefore(tr, liveRows.firstChild);
    while (liveRows.children.length > 200) liveRows.removeChild(liveRows.lastChild);
    var empty = document.getElementById('timeline-empty');
    if (empty) empty.remove();
  }

  // ---- the feed -------------------------------------------------------------------------------------------

  function setState(on, text) {
    dot.classList.toggle('on', on);
    dot.classList.toggle('off', !on);
    stateEl.textContent = text;
  }

  var onProject = !!live.dataset.project;
  var es = new EventSource(live.dataset.feed);
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
    if (onProject) onProjectRecord(r); else onOverviewRecord(r);
  });
  window.addEventListener('pagehide', function () { es.close(); });
})();
