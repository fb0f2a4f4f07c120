// 宁波市智慧工地监管平台 — a workflow form in the page (docs/PEOPLE.md): builds the fields of people_forms.js,
// shows in words and as JSON what is about to be signed, runs the form's `prepare` step, signs with the person's
// (or the organisation's) key through people.js, and shows each record's answer next to the field it names.
// No external script, no build step.
(function () {
  'use strict';

  var P = window.siteledgerPeople;
  var FORMS = window.siteledgerPeopleForms;
  var $ = P.$, say = P.say, call = P.call, loadKey = P.loadKey, signAndPost = P.signAndPost;
  var supported = P.supported, showSupport = P.showSupport, PERSON = P.PERSON, ORG = P.ORG;

  // The form's values. Fields marked `vault` (ID and card numbers, names, phones) are never among them: they
  // go to the vault endpoint only (vaultValues), never into a payload, the words or the preview.
  function values(form) {
    var v = {};
    var spec = FORMS[form.dataset.form] || { fields: [] };
    var secret = {};
    spec.fields.forEach(function (f) { if (f[4] && f[4].vault) secret[f[0]] = true; });
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && el.type !== 'file' && !secret[el.name]) v[el.name] = el.value.trim();
    });
    spec.fields.forEach(function (f) {
      if (f[2] === 'file') v[f[0] + '_sha256'] = form.dataset['sha_' + f[0]] || '';
    });
    Object.keys(prepared).forEach(function (k) { v[k] = prepared[k]; });
    return v;
  }

  function vaultValues(form) {
    var out = {};
    (FORMS[form.dataset.form] || { fields: [] }).fields.forEach(function (f) {
      if (f[4] && f[4].vault) out[f[0]] = form.elements[f[0]].value.trim();
    });
    return out;
  }

  // What a form's `prepare` step answered (the vault's references, a computed rating decision): merged into the
  // values, cleared whenever the form changes.
  var prepared = {};

  function buildForm(form, spec) {
    var q = new URLSearchParams(window.location.search);
    spec.fields.forEach(function (f) {
      var wrap = document.createElement('div');
      wrap.className = 'field';
      var label = document.createElement('label');
      label.htmlFor = 'f-' + f[0];
      label.textContent = f[1];
      var input;
      if (f[2] === 'select') {
        input = document.createElement('select');
        f[3].forEach(function (o) {
          var opt = document.createElement('option');
          opt.value = o[0];
          opt.textContent = o[1];
          input.appendChild(opt);
        });
      } else if (f[2] === 'textarea') {
        input = document.createElement('textarea');
        input.rows = 3;
      } else {
        input = document.createElement('input');
        input.type = f[2];
        if (f[2] === 'file') input.accept = (f[4] && f[4].accept) || 'image/*';
      }
      if (f[4] && f[4].vault) {
        // Personal numbers: not remembered by the browser, not shown in the preview.
        input.autocomplete = 'off';
        input.dataset.vault = 'yes';
      }
      input.id = 'f-' + f[0];
      input.name = f[0];
      if (f[2] !== 'file') {
        var preset = q.get(f[0]);
        if (preset !== null && !(f[4] && f[4].vault)) input.value = preset;
        else if (typeof f[3] === 'function') input.value = f[3]();
      }
      var err = document.createElement('p');
      err.className = 'field-error';
      err.id = 'err-' + f[0];
      err.setAttribute('role', 'alert');
      wrap.appendChild(label);
      wrap.appendChild(input);
      wrap.appendChild(err);
      form.insertBefore(wrap, form.querySelector('.form-actions'));
    });
  }

  function preview(form, spec) {
    var v = values(form);
    $('sign-words').textContent = spec.words(v);
    var items;
    try { items = spec.items(v); } catch (e) { items = []; }
    $('sign-payload').textContent = items.map(function (i) { return i.kind + '\n' + JSON.stringify(i.payload, null, 2); }).join('\n\n');
  }

  function clearErrors(form) {
    Array.prototype.forEach.call(form.querySelectorAll('.field-error'), function (p) { p.textContent = ''; });
  }

  // Shows each refused item's rule code and message next to the field it names (or under the form).
  function showAnswer(form, spec, res) {
    clearErrors(form);
    var out = $('sign-result');
    out.textContent = '';
    // Payload members a refusal may name, and the field each belongs to (a file field's digest member).
    var member = { photo_hashes: 'photo' };
    spec.fields.forEach(function (f) { member[f[0]] = f[0]; if (f[4] && f[4].member) member[f[4].member] = f[0]; });
    var names = Object.keys(member).sort(function (a, b) { return b.length - a.length; });
    res.answer.results.forEach(function (r, i) {
      var env = res.envelopes[i];
      var li = document.createElement('li');
      li.dataset.status = r.status;
      li.dataset.kind = env.kind;
      if (r.status === 'rejected') {
        var text = r.code + ' · ' + r.message;
        li.className = 'rejected';
        li.textContent = '未写入 refused: ' + env.kind + ' — ' + text;
        var field = names.filter(function (n) { return r.message.indexOf(n) >= 0; })[0];
        var target = field && $('err-' + member[field]);
        if (target) target.textContent = text;
        else {
          // A rule about the record as a whole (who may sign, the project's state): next to the form's button.
          var all = $('err-form');
          if (all) all.textContent = (all.textContent ? all.textContent + '\n' : '') + text;
        }
      } else {
        li.className = 'stored';
        li.appendChild(document.createTextNode('已签名并写入日志 signed and logged: ' + env.kind + ' · '));
        var a = document.createElement('a');
        a.href = '/verify/' + env.id;
        a.className = 'verify-link';
        a.textContent = '核验 /verify/' + env.id;
        li.appendChild(a);
      }
      out.appendChild(li);
    });
    document.body.dataset.signed = String(res.answer.accepted + res.answer.duplicates);
    document.body.dataset.refused = String(res.answer.rejected);
  }

  function initForm() {
    var form = $('sign-form');
    var spec = FORMS[form.dataset.form];
    if (!spec) return;
    buildForm(form, spec);
    var actions = form.querySelector('.form-actions');
    var formErr = document.createElement('p');
    formErr.className = 'field-error';
    formErr.id = 'err-form';
    formErr.setAttribute('role', 'alert');
    actions.parentNode.insertBefore(formErr, actions.nextSibling);
    if (spec.note) {
      var note = document.createElement('p');
      note.className = 'people-msg';
      note.id = 'form-note';
      note.textContent = spec.note;
      form.insertBefore(note, form.firstChild);
    }
    var submit = form.querySelector('button[type=submit]');
    // A form that computes first (the rating decision): 计算 shows what will be signed; signing is possible only
    // then, and signs exactly what was shown. Any change of the form asks for a new computation.
    var computed = false;
    function setComputed(yes) {
      computed = yes;
      document.body.dataset.computed = yes ? 'yes' : '';
      if (spec.computeFirst) submit.disabled = !yes || document.body.dataset.webcrypto === 'no';
    }
    if (spec.computeFirst) {
      var compute = document.createElement('button');
      compute.type = 'button';
      compute.id = 'compute-button';
      compute.className = 'button';
      compute.textContent = '计算 compute';
      actions.insertBefore(compute, submit);
      setComputed(false);
      compute.addEventListener('click', function () {
        clearErrors(form);
        setComputed(false);
        say($('sign-msg'), '正在计算… computing');
        spec.prepare(values(form), vaultValues(form)).then(function (extra) {
          prepared = extra || {};
          preview(form, spec);
          setComputed(true);
          say($('sign-msg'), '已计算：请核对下方将签署的内容，再签名提交 · computed: check what you are about to sign below, then sign and submit', 'ok');
        }).catch(function (e) {
          var target = e.field && $('err-' + e.field);
          if (target) target.textContent = e.message;
          say($('sign-msg'), e.message, 'error');
        });
      });
    }
    form.addEventListener('input', function () { prepared = {}; setComputed(false); preview(form, spec); });
    form.addEventListener('change', function (ev) {
      if (ev.target.type !== 'file') return;
      var name = ev.target.name;
      var file = ev.target.files && ev.target.files[0];
      delete form.dataset['sha_' + name];
      if (name === 'photo') delete form.dataset.photoSha256;
      if (!file) return;
      // The file goes to the attachment store first (POST /v1/blobs); the record cites its SHA-256.
      say($('sign-msg'), '正在上传附件… uploading ' + file.name);
      call('POST', '/v1/blobs', file, true).then(function (blob) {
        form.dataset['sha_' + name] = blob.sha256;
        if (name === 'photo') form.dataset.photoSha256 = blob.sha256;
        say($('sign-msg'), '附件已上传 uploaded: ' + blob.sha256, 'ok');
        preview(form, spec);
      }).catch(function (e) { say($('sign-msg'), e.message, 'error'); });
    });
    preview(form, spec);
    supported().then(function (ok) {
      showSupport(ok);
      if (!ok) { form.querySelector('button[type=submit]').disabled = true; return; }
      form.addEventListener('submit', function (ev) {
        ev.preventDefault();
        clearErrors(form);
        var slot = spec.key === 'org' ? ORG : PERSON;
        say($('sign-msg'), '正在签名… signing');
        loadKey(slot).then(function (rec) {
          if (!rec) {
            throw new Error(slot === ORG
              ? '本机没有单位密钥：请在 /people/admin 导入并登录 / no organisation key in this browser: import it at /people/admin'
              : '本机没有个人密钥 / no personal key in this browser: see /people');
          }
          if (spec.computeFirst && !computed) {
            throw new Error('请先计算并核对结果 / compute first and check the result before signing');
          }
          // A computed form signs what was shown; another form's prepare step (the vault) runs at signing only.
          var step = spec.computeFirst ? Promise.resolve(prepared)
            : spec.prepare ? spec.prepare(values(form), vaultValues(form)) : Promise.resolve({});
          return step.then(function (extra) {
            prepared = extra || {};
            preview(form, spec);
            var v = values(form);
            var items = spec.items(v).map(function (i) {
              i.stream = i.stream || (spec.stream ? spec.stream(v) : 'project/' + v.project_id + '/supervision');
              return i;
            });
            return signAndPost(rec, items);
          });
        }).then(function (res) {
          showAnswer(form, spec, res);
          say($('sign-msg'), res.answer.rejected ? '有记录被拒绝，见下 · refused, see below' : '已签名 · signed', res.answer.rejected ? 'error' : 'ok');
        }).catch(function (e) {
          var target = e.field && $('err-' + e.field);
          if (target) target.textContent = e.message;
          say($('sign-msg'), e.message, 'error');
          document.body.dataset.signed = 'error';
        });
      });
    });
  }


  var page = document.body.querySelector('[data-people-page]');
  if (page && page.dataset.peoplePage === 'form') initForm();
})();
