// 宁波市智慧工地监管平台 — the workflow forms people sign (docs/PEOPLE.md): each form's fields, the records it
// signs (`items`), the same in words (`words`), and optional steps before signing (`prepare`: the vault, a computed
// rating decision). Loaded after people.js; people_sign.js builds, previews, signs and posts them.
// No external script, no build step.
(function () {
  'use strict';

  var P = window.siteledgerPeople;
  var call = P.call;
  var nowShanghai = P.nowShanghai;
  var localToShanghai = P.localToShanghai;

  var LEVELS = [['serious', '严重 serious'], ['general', '一般 general'], ['minor', '轻微 minor']];
  var LEVEL_ZH = { serious: '严重', general: '一般', minor: '轻微' };
  function today() { return nowShanghai().slice(0, 10).replace(/-/g, ''); }


  // An amount in fen, in words: 1234567 → 12345.67 元.
  function yuan(fen) {
    if (!/^[0-9]+$/.test(fen || '')) return (fen || '?') + ' 分';
    var f = fen.length < 3 ? ('00' + fen).slice(-3) : fen;
    return f.slice(0, -2) + '.' + f.slice(-2) + ' 元';
  }

  // Ids separated by commas, spaces or lines.
  function list(s) {
    return (s || '').split(/[\s,，]+/).filter(Boolean);
  }

  function pick(v, names) {
    var out = {};
    names.forEach(function (n) { out[n] = v[n]; });
    return out;
  }

  // An account number as signed: a masked form (at most 8 digits, some `*`) is kept; anything else shows its first
  // and last four digits only (6222 **** **** 0001), so a full number never reaches a payload, the words or the log.
  function maskAccount(s) {
    var t = (s || '').trim();
    var digits = t.replace(/[^0-9]/g, '');
    if (t.indexOf('*') >= 0 && digits.length <= 8) return t;
    if (digits.length < 8) return t ? '****' : '';
    return digits.slice(0, 4) + ' **** **** ' + digits.slice(-4);
  }

  function num(s) {
    return /^[0-9]+$/.test(s) ? parseInt(s, 10) : s;
  }

  // A field whose error a prepare step (the vault, a computation) names; the message goes next to it.
  function fieldError(field, message) {
    var e = new Error(message);
    e.field = field;
    return e;
  }


  // Each form: its fields (name, label, type, options), what it signs (items), and the same in words.
  var FORMS = {
    inspection: {
      fields: [
        ['project_id', '项目编号 project', 'text'],
        ['inspection_id', '检查编号 inspection id', 'text', function () { return 'INS-' + today() + '-01'; }],
        ['inspection_kind', '检查类别 kind', 'select', [['safety', '安全 safety'], ['quality', '质量 quality']]],
        ['inspector', '检查人 inspector', 'text'],
        ['scope', '检查范围 scope', 'text'],
        ['inspected_party', '受检单位信用代码 inspected party', 'text'],
        ['finding_id', '问题编号 finding id', 'text', function () { return 'F-' + today() + '-01'; }],
        ['level', '问题等级 level', 'select', LEVELS],
        ['category', '问题类别 category', 'text'],
        ['description', '问题描述 description', 'textarea']
      ],
      items: function (v) {
        return [
          { kind: 'inspection.inspection.recorded.v1', payload: pick(v, ['project_id', 'inspection_id', 'inspection_kind', 'inspector', 'scope', 'inspected_party']) },
          { kind: 'inspection.finding.recorded.v1', payload: pick(v, ['project_id', 'inspection_id', 'finding_id', 'level', 'category', 'description']) }
        ];
      },
      words: function (v) {
        return '我对项目 ' + v.project_id + ' 进行' + (v.inspection_kind === 'quality' ? '质量' : '安全') + '监督检查（' + v.inspection_id +
          '，受检单位 ' + v.inspected_party + '，范围：' + v.scope + '），发现' + (LEVEL_ZH[v.level] || '') + '问题 ' + v.finding_id +
          '（' + v.category + '）：' + v.description + '。';
      }
    },
    notice: {
      fields: [
        ['project_id', '项目编号 project', 'text'],
        ['finding_id', '问题编号 finding id', 'text'],
        ['notice_id', '通知编号 notice id', 'text', function () { return 'N-' + today() + '-01'; }],
        ['deadline', '整改期限 deadline', 'datetime-local'],
        ['responsible', '整改责任单位信用代码 responsible', 'text'],
        ['requirement', '整改要求 requirement', 'textarea']
      ],
      items: function (v) {
        var p = pick(v, ['project_id', 'finding_id', 'notice_id', 'responsible', 'requirement']);
        p.deadline = localToShanghai(v.deadline);
        return [{ kind: 'inspection.rectification.noticed.v1', payload: p }];
      },
      words: function (v) {
        return '我就问题 ' + v.finding_id + '（项目 ' + v.project_id + '）向 ' + v.responsible + ' 下达整改通知 ' + v.notice_id +
          '，限 ' + localToShanghai(v.deadline) + ' 前整改：' + v.requirement + '。';
      }
    },
    review: {
      fields: [
        ['project_id', '项目编号 project', 'text'],
        ['notice_id', '通知编号 notice id', 'text'],
        ['result', '复查结论 result', 'select', [['pass', '通过 pass'], ['fail', '不通过 fail']]],
        ['reviewer', '复查人 reviewer', 'text'],
        ['note', '复查意见 note', 'textarea']
      ],
      items: function (v) {
        return [{ kind: 'inspection.rectification.reviewed.v1', payload: pick(v, ['project_id', 'notice_id', 'result', 'reviewer', 'note']) }];
      },
      words: function (v) {
        return '我复查了整改通知 ' + v.notice_id + '（项目 ' + v.project_id + '）的整改情况，结论：' +
          (v.result === 'pass' ? '通过' : '不通过') + '。意见：' + v.note + '。';
      }
    },
    closure: {
      fields: [
        ['project_id', '项目编号 project', 'text'],
        ['notice_id', '通知编号 notice id', 'text']
      ],
      items: function (v) {
        return [{ kind: 'inspection.rectification.closed.v1', payload: pick(v, ['project_id', 'notice_id']) }];
      },
      words: function (v) { return '整改通知 ' + v.notice_id + '（项目 ' + v.project_id + '）复查已通过，予以销号。'; }
    },
    'stop-work': {
      fields: [
        ['action', '操作 action', 'select', [['order', '下达停工令 order'], ['lift', '复工 lift']]],
        ['project_id', '项目编号 project', 'text'],
        ['order_id', '停工令编号 order id', 'text', function () { return 'SW-' + today() + '-01'; }],
        ['inspection_id', '所依据的检查（可空）inspection id', 'text'],
        ['reason', '停工原因 reason（停工令）', 'textarea'],
        ['scope', '停工范围 scope（停工令）', 'text'],
        ['note', '复工说明 note（复工）', 'textarea']
      ],
      items: function (v) {
        if (v.action === 'lift') {
          return [{ kind: 'inspection.stop_work.lifted.v1', payload: pick(v, ['project_id', 'order_id', 'note']) }];
        }
        var p = pick(v, ['project_id', 'order_id', 'reason', 'scope']);
        if (v.inspection_id) p.inspection_id = v.inspection_id;
        return [{ kind: 'inspection.stop_work.ordered.v1', payload: p }];
      },
      words: function (v) {
        return v.action === 'lift'
          ? '同意项目 ' + v.project_id + ' 停工令 ' + v.order_id + ' 复工：' + v.note + '。'
          : '对项目 ' + v.project_id + ' 下达停工令 ' + v.order_id + '（范围：' + v.scope + '）：' + v.reason + '。';
      }
    },
    submission: {
      fields: [
        ['project_id', '项目编号 project', 'text'],
        ['notice_id', '通知编号 notice id', 'text'],
        ['photo', '整改照片 photo', 'file'],
        ['note', '整改说明 note', 'textarea']
      ],
      items: function (v) {
        var p = pick(v, ['project_id', 'notice_id', 'note']);
        p.photo_hashes = v.photo_sha256 ? [v.photo_sha256] : [];
        return [{ kind: 'inspection.rectification.submitted.v1', payload: p }];
      },
      words: function (v) {
        return '我单位已按整改通知 ' + v.notice_id + '（项目 ' + v.project_id + '）完成整改：' + v.note +
          '。附整改照片' + (v.photo_sha256 ? '（SHA-256 ' + v.photo_sha256 + '）' : '（上传后计算摘要）') + '。';
      }
    },

    // ---- 检测机构 (tester) and 监理/建设单位 (staff) ------------------------------------------------------

    'sample-receipt': {
      fields: [
        ['project_id', '项目编号 project', 'text'],
        ['sample_id', '样品编号 sample id', 'text'],
        ['seal_id', '封样标识 seal id', 'text'],
        ['seal_intact', '封样是否完好 seal intact', 'select', [['true', '完好 intact'], ['false', '破损 broken']]],
        ['condition', '样品状态 condition', 'textarea']
      ],
      items: function (v) {
        var p = pick(v, ['project_id', 'sample_id', 'seal_id', 'condition']);
        p.seal_intact = v.seal_intact === 'true';
        return [{ kind: 'testing.sample.received.v1', payload: p }];
      },
      words: function (v) {
        return '本检测机构收到项目 ' + v.project_id + ' 的样品 ' + v.sample_id + '（封样 ' + v.seal_id + '），封样' +
          (v.seal_intact === 'true' ? '完好' : '破损') + '，样品状态：' + v.condition + '。';
      }
    },
    'test-report': {
      fields: [
        ['project_id', '项目编号 project', 'text'],
        ['sample_id', '样品编号 sample id', 'text'],
        ['report_year', '报告年度 year', 'text', function () { return today().slice(0, 4); }],
        ['report_seq', '报告序号 number (按年度连续)', 'text'],
        ['tester', '检测人 tester', 'text'],
        ['reviewer', '审核人 reviewer', 'text'],
        ['approver', '批准人 approver', 'text'],
        ['result', '检测结论 result', 'select', [['qualified', '合格 qualified'], ['unqualified', '不合格 unqualified']]],
        ['summary', '检测数据摘要 summary', 'textarea'],
        ['report', '检测报告 PDF report', 'file', null, { accept: 'application/pdf', member: 'report_sha256' }]
      ],
      items: function (v) {
        var p = pick(v, ['project_id', 'sample_id', 'tester', 'reviewer', 'approver', 'result', 'summary']);
        p.report_year = num(v.report_year);
        p.report_seq = num(v.report_seq);
        if (v.report_sha256) p.report_sha256 = v.report_sha256;
        return [{ kind: 'testing.report.issued.v1', payload: p }];
      },
      words: function (v) {
        return '本检测机构就项目 ' + v.project_id + ' 样品 ' + v.sample_id + ' 出具 ' + v.report_year + ' 年第 ' + v.report_seq +
          ' 号检测报告，结论：' + (v.result === 'unqualified' ? '不合格' : '合格') + '（检测 ' + v.tester + '，审核 ' + v.reviewer +
          '，批准 ' + v.approver + '）：' + v.summary + '。' +
          (v.report_sha256 ? '报告 PDF 的 SHA-256：' + v.report_sha256 + '。' : '（请上传报告 PDF，记录将引用其摘要。）');
      }
    },
    commission: {
      fields: [
        ['project_id', '项目编号 project', 'text'],
        ['commission_id', '委托编号 commission id', 'text', function () { return 'C-' + today() + '-01'; }],
        ['lab', '检测机构信用代码 laboratory', 'text'],
        ['item', '检测项目 item', 'text'],
        ['structural', '是否涉及结构安全 structural', 'select', [['true', '是 yes'], ['false', '否 no']]]
      ],
      items: function (v) {
        var p = pick(v, ['project_id', 'commission_id', 'lab', 'item']);
        p.structural = v.structural === 'true';
        return [{ kind: 'testing.commissioned.v1', payload: p }];
      },
      words: function (v) {
        return '建设单位委托检测机构 ' + v.lab + ' 对项目 ' + v.project_id + ' 进行检测（委托 ' + v.commission_id + '，项目：' + v.item +
          (v.structural === 'true' ? '，涉及结构安全' : '') + '）。';
      }
    },
    'sample-witness': {
      fields: [
        ['project_id', '项目编号 project', 'text'],
        ['commission_id', '委托编号 commission id', 'text'],
        ['sample_id', '样品编号 sample id', 'text', function () { return 'S-' + today() + '-01'; }],
        ['seal_id', '封样标识 seal id', 'text'],
        ['witness', '见证人 witness', 'text'],
        ['sampler', '取样人 sampler', 'text']
      ],
      items: function (v) {
        return [{ kind: 'testing.sample.taken.v1', payload: pick(v, ['project_id', 'commission_id', 'sample_id', 'seal_id', 'witness', 'sampler']) }];
      },
      words: function (v) {
        return '我见证了项目 ' + v.project_id + ' 委托 ' + v.commission_id + ' 的取样：样品 ' + v.sample_id + '，封样 ' + v.seal_id +
          '，取样人 ' + v.sampler + '，见证人 ' + v.witness + '。';
      }
    },
    acceptance: {
      fields: [
        ['action', '操作 action', 'select', [['countersign', '专项施工方案审查签字 countersign the plan'], ['accept', '危大工程验收 accept the work']]],
        ['project_id', '项目编号 project', 'text'],
        ['work_id', '危大工程编号 work id', 'text'],
        ['plan_version', '方案版本（审查签字）plan version', 'text', function () { return '1'; }],
        ['chief_supervisor', '总监理工程师 chief supervisor', 'text'],
        ['technical_lead', '施工单位技术负责人（验收）technical lead', 'text'],
        ['note', '验收意见（验收）note', 'textarea']
      ],
      items: function (v) {
        if (v.action === 'accept') {
          return [{ kind: 'hazard.work.accepted.v1', payload: pick(v, ['project_id', 'work_id', 'technical_lead', 'chief_supervisor', 'note']) }];
        }
        var p = pick(v, ['project_id', 'work_id', 'chief_supervisor']);
        p.plan_version = num(v.plan_version);
        return [{ kind: 'hazard.plan.countersigned.v1', payload: p }];
      },
      words: function (v) {
        return v.action === 'accept'
          ? '监理单位会同施工单位技术负责人 ' + v.technical_lead + ' 对项目 ' + v.project_id + ' 危大工程 ' + v.work_id + ' 验收合格（总监 ' + v.chief_supervisor + '）：' + v.note + '。'
          : '总监理工程师 ' + v.chief_supervisor + ' 审查并签字项目 ' + v.project_id + ' 危大工程 ' + v.work_id + ' 专项施工方案第 ' + v.plan_version + ' 版。';
      }
    },
    // The general contractor's staff (施工总承包) open the project's 农民工工资专用账户 (条例第二十六条); the owner's
    // labour-cost deposit needs it. Only the account's masked form is signed: a full number typed here is masked
    // in the page before it is shown or signed.
    'wage-account': {
      fields: [
        ['project_id', '项目编号 project', 'text'],
        ['opened_by', '施工总承包单位信用代码 general contractor', 'text'],
        ['bank_name', '开户银行 bank', 'text'],
        ['account', '专用账户账号（签署脱敏形式）account (its masked form is signed)', 'text', null, { member: 'account_masked' }],
        ['pay_day', '发薪日（次月几日，1–31）pay day', 'number', function () { return '15'; }]
      ],
      stream: function (v) { return 'project/' + v.project_id + '/wage'; },
      items: function (v) {
        var p = pick(v, ['project_id', 'opened_by', 'bank_name']);
        p.account_masked = maskAccount(v.account);
        p.pay_day = num(v.pay_day);
        return [{ kind: 'wage.account.opened.v1', payload: p }];
      },
      words: function (v) {
        return '我单位 ' + v.opened_by + ' 为项目 ' + v.project_id + ' 在 ' + v.bank_name + ' 开立农民工工资专用账户（' +
          maskAccount(v.account) + '），工资于次月 ' + v.pay_day + ' 日前发放。';
      }
    },
    'labour-deposit': {
      fields: [
        ['project_id', '项目编号 project', 'text'],
        ['payer', '建设单位信用代码 payer', 'text'],
        ['amount_fen', '金额（分）amount in fen', 'text'],
        ['deposited_on', '到账日期 value date', 'date'],
        ['for_month', '所属月份 for month (YYYY-MM)', 'month']
      ],
      stream: function (v) { return 'project/' + v.project_id + '/wage'; },
      items: function (v) {
        var p = pick(v, ['project_id', 'payer', 'deposited_on', 'for_month']);
        p.amount_fen = num(v.amount_fen);
        return [{ kind: 'wage.labour_cost.deposited.v1', payload: p }];
      },
      words: function (v) {
        return '建设单位 ' + v.payer + ' 于 ' + v.deposited_on + ' 向项目 ' + v.project_id + ' 工资专用账户拨付 ' + v.for_month +
          ' 人工费用 ' + yuan(v.amount_fen) + '。';
      }
    },

    // ---- 区县/市住建局 (inspector; the city bureau's organisation key) ------------------------------------

    'wage-finding': {
      fields: [
        ['project_id', '项目编号 project', 'text'],
        ['rule', '规则 rule (arrears_suspected, underpayment …)', 'text', function () { return 'arrears_suspected'; }],
        ['month', '所属月份 month', 'month'],
        ['finding_id', '发现编号 finding id (<rule>:<YYYY-MM>[:<person_ref>])', 'text'],
        ['summary', '情况说明（仅掩码与人员编号）summary', 'textarea'],
        ['evidence', '依据记录编号（逗号分隔）evidence event ids', 'textarea']
      ],
      stream: function (v) { return 'project/' + v.project_id + '/wage/findings'; },
      items: function (v) {
        var p = pick(v, ['project_id', 'rule', 'month', 'summary']);
        p.finding_id = v.finding_id || (v.rule + ':' + v.month);
        p.evidence = list(v.evidence);
        return [{ kind: 'wage.finding.recorded.v1', payload: p }];
      },
      words: function (v) {
        return '我代表住建部门公布项目 ' + v.project_id + ' ' + v.month + ' 的欠薪核查发现 ' + (v.finding_id || (v.rule + ':' + v.month)) +
          '（规则 ' + v.rule + '）：' + v.summary + '。依据记录 ' + list(v.evidence).length + ' 条。';
      }
    },
    task: {
      fields: [
        ['action', '操作 action', 'select', [['dispatch', '派发 dispatch'], ['escalate', '升级 escalate'], ['close', '办结 close']]],
        ['task_id', '任务编号 task id', 'text', function () { return 'T-' + today() + '-01'; }],
        ['district', '区县代码 district', 'text'],
        ['project_id', '项目编号（可空）project', 'text'],
        ['source_kind', '来源 source (派发)', 'select', [['finding', '检查问题 finding'], ['alarm', '报警 alarm'], ['anomaly', '异常 anomaly'], ['testing', '检测 testing'], ['other', '其他 other']]],
        ['source_event_id', '来源记录编号 source event id (派发)', 'text'],
        ['title', '任务标题 title (派发)', 'text'],
        ['level', '层级 level', 'select', [['project', '项目 project'], ['district', '区县 district'], ['city', '市 city']]],
        ['assignee_kind', '承办方类别 assignee kind', 'select', [['enterprise', '企业 enterprise'], ['district_bureau', '区县住建局 district bureau'], ['city_bureau', '市住建局 city bureau'], ['authority', '其他部门 authority']]],
        ['assignee', '承办方（企业填信用代码，住建部门填区县代码）assignee', 'text'],
        ['sla_hours', '办理时限（小时）SLA hours', 'text', function () { return '48'; }],
        ['reason', '升级原因 reason (升级)', 'textarea'],
        ['note', '办结说明 note (办结)', 'textarea']
      ],
      stream: function (v) { return v.project_id ? 'project/' + v.project_id + '/tasks' : 'district/' + v.district + '/tasks'; },
      items: function (v) {
        var p = pick(v, ['task_id', 'district']);
        if (v.project_id) p.project_id = v.project_id;
        if (v.action === 'close') {
          p.note = v.note;
          return [{ kind: 'task.closed.v1', payload: p }];
        }
        p.assignee_kind = v.assignee_kind;
        p.assignee = v.assignee;
        p.sla_hours = num(v.sla_hours);
        if (v.action === 'escalate') {
          p.to_level = v.level;
          p.reason = v.reason;
          return [{ kind: 'task.escalated.v1', payload: p }];
        }
        p.source_kind = v.source_kind;
        p.source_event_id = v.source_event_id;
        p.title = v.title;
        p.level = v.level;
        return [{ kind: 'task.dispatched.v1', payload: p }];
      },
      words: function (v) {
        var where = v.project_id ? '项目 ' + v.project_id : '区县 ' + v.district;
        if (v.action === 'close') return '任务 ' + v.task_id + '（' + where + '）办结：' + v.note + '。';
        if (v.action === 'escalate') {
          return '将任务 ' + v.task_id + '（' + where + '）升级至' + v.level + '级，由 ' + v.assignee + ' 在 ' + v.sla_hours + ' 小时内办理：' + v.reason + '。';
        }
        return '向 ' + v.assignee + ' 派发任务 ' + v.task_id + '（' + where + '）：' + v.title + '，限 ' + v.sla_hours + ' 小时内办理。';
      }
    },
    'rating-decision': {
      note: '评定结果由平台按日志前 N 条记录和已发布的评定政策计算（GET /v1/ratings/{项目}/compute）：先点“计算”，核对显示的结果后再签名提交；' +
        '您签署的正是显示的计算结果。 Compute first: the decision is computed from the log and the published policy and shown; ' +
        'you then sign exactly what is shown.',
      fields: [
        ['project_id', '项目编号 project', 'text'],
        ['as_of', '评定日期（可空，默认今日）as of', 'date']
      ],
      stream: function (v) { return 'project/' + v.project_id + '/rating'; },
      // The page computes first (计算) and shows the decision; only then may it be signed, exactly as shown.
      computeFirst: true,
      prepare: function (v) {
        var q = v.as_of ? '?as_of=' + encodeURIComponent(v.as_of) : '';
        return call('GET', '/v1/ratings/' + encodeURIComponent(v.project_id) + '/compute' + q).then(function (c) {
          return { decision: c.decision };
        }, function (e) { throw fieldError('project_id', e.message); });
      },
      items: function (v) {
        return v.decision ? [{ kind: 'rating.decision.v1', payload: v.decision }] : [];
      },
      words: function (v) {
        var d = v.decision;
        if (!d) return '我将签署项目 ' + v.project_id + ' 的星级评定结果：请先点“计算 compute”，计算结果显示在此后再签名提交。';
        return '我签署项目 ' + d.project_id + ' 的星级评定：依据评定政策第 ' + d.policy_version + ' 版、日志前 ' + d.tree_size + ' 条记录，截至 ' +
          d.as_of + '，应达 ' + (d.required == null ? '—' : d.required + ' 星') + '，实际达到 ' + d.achieved + ' 星。';
      }
    },
    'rating-policy': {
      key: 'org',
      note: '星级评定政策只能由市住建局的单位密钥签署（rating.policy.v1 须由 city_bureau 密钥签名，个人密钥不能代签）：' +
        '请市住建局管理员在 /people/admin 导入单位密钥并登录后在本页签署。 rating.policy.v1 is signed by the city bureau\'s own key, ' +
        'not a person\'s: the administrator imports it at /people/admin, signs in, and signs here.',
      fields: [
        ['policy', '政策文件（JSON，rating.policy.v1 payload）policy document', 'textarea']
      ],
      stream: function () { return 'city/policy/rating'; },
      items: function (v) {
        var p;
        try { p = JSON.parse(v.policy); } catch (e) { throw fieldError('policy', '不是 JSON / not JSON: ' + e.message); }
        return [{ kind: 'rating.policy.v1', payload: p }];
      },
      words: function (v) {
        var p = null;
        try { p = JSON.parse(v.policy); } catch (e) { p = null; }
        if (!p) return '请粘贴评定政策文件。 Paste the policy document.';
        return '以市住建局单位密钥发布星级评定政策第 ' + p.version + ' 版《' + p.title + '》，自 ' + p.effective_from + ' 起施行（' +
          (p.applications || []).length + ' 项应用、' + (p.levels || []).length + ' 个星级）。';
      }
    },

    // ---- 施工单位 (staff of the contractor) ------------------------------------------------------------

    'hazard-work': {
      fields: [
        ['project_id', '项目编号 project', 'text'],
        ['work_id', '危大工程编号 work id', 'text', function () { return 'W-' + today() + '-01'; }],
        ['name', '工程名称 name', 'text'],
        ['category', '类别 category', 'select', [['excavation', '基坑 excavation'], ['formwork', '模板 formwork'], ['lifting', '起重吊装 lifting'], ['scaffolding', '脚手架 scaffolding'], ['demolition', '拆除 demolition'], ['underground', '暗挖 underground'], ['other', '其他 other']]],
        ['subtype', '子类（模板、吊装、脚手架、其他必填）subtype', 'text'],
        ['depth_m', '开挖深度（米）depth m', 'text'],
        ['height_m', '高度（米）height m', 'text'],
        ['span_m', '跨度（米）span m', 'text']
      ],
      items: function (v) {
        var p = pick(v, ['project_id', 'work_id', 'name', 'category']);
        p.parameters = {};
        ['subtype', 'depth_m', 'height_m', 'span_m'].forEach(function (k) { if (v[k]) p.parameters[k] = v[k]; });
        return [{ kind: 'hazard.work.listed.v1', payload: p }];
      },
      words: function (v) {
        return '我单位将项目 ' + v.project_id + ' 的 ' + v.name + '（' + v.work_id + '，' + v.category +
          (v.depth_m ? '，深 ' + v.depth_m + ' 米' : '') + (v.height_m ? '，高 ' + v.height_m + ' 米' : '') + '）列为危大工程。';
      }
    },
    'hazard-plan': {
      fields: [
        ['project_id', '项目编号 project', 'text'],
        ['work_id', '危大工程编号 work id', 'text'],
        ['plan_version', '方案版本 plan version', 'text', function () { return '1'; }],
        ['technical_lead', '施工单位技术负责人 technical lead', 'text'],
        ['plan', '专项施工方案 PDF plan', 'file', null, { accept: 'application/pdf', member: 'plan_hash' }]
      ],
      items: function (v) {
        var p = pick(v, ['project_id', 'work_id', 'technical_lead']);
        p.plan_version = num(v.plan_version);
        p.plan_hash = v.plan_sha256;
        return [{ kind: 'hazard.plan.approved.v1', payload: p }];
      },
      words: function (v) {
        return '施工单位技术负责人 ' + v.technical_lead + ' 审批项目 ' + v.project_id + ' 危大工程 ' + v.work_id + ' 专项施工方案第 ' +
          v.plan_version + ' 版' + (v.plan_sha256 ? '（方案 PDF 的 SHA-256：' + v.plan_sha256 + '）' : '（请上传方案 PDF）') + '。';
      }
    },
    'hazard-step': {
      fields: [
        ['action', '操作 action', 'select', [['briefing', '安全技术交底 briefing'], ['notice', '现场公告 site notice'], ['start', '开工 start']]],
        ['project_id', '项目编号 project', 'text'],
        ['work_id', '危大工程编号 work id', 'text'],
        ['note', '内容 note', 'textarea']
      ],
      items: function (v) {
        var kind = { briefing: 'hazard.briefing.held.v1', notice: 'hazard.site_notice.posted.v1', start: 'hazard.work.started.v1' }[v.action];
        return [{ kind: kind, payload: pick(v, ['project_id', 'work_id', 'note']) }];
      },
      words: function (v) {
        var what = { briefing: '已进行安全技术交底', notice: '已在现场公告', start: '开始施工' }[v.action];
        return '项目 ' + v.project_id + ' 危大工程 ' + v.work_id + ' ' + what + '：' + v.note + '。';
      }
    },
    'hazard-monitoring': {
      fields: [
        ['project_id', '项目编号 project', 'text'],
        ['work_id', '危大工程编号 work id', 'text'],
        ['point', '测点 point', 'text'],
        ['item', '监测项目 item', 'text'],
        ['value', '监测值 value', 'text'],
        ['alarm_value', '报警值 alarm value', 'text'],
        ['anomaly', '是否异常 anomaly', 'select', [['false', '正常 normal'], ['true', '异常 anomaly']]]
      ],
      items: function (v) {
        var p = pick(v, ['project_id', 'work_id', 'point', 'item', 'value', 'alarm_value']);
        p.anomaly = v.anomaly === 'true';
        return [{ kind: 'hazard.monitoring.recorded.v1', payload: p }];
      },
      words: function (v) {
        return '项目 ' + v.project_id + ' 危大工程 ' + v.work_id + ' 测点 ' + v.point + ' ' + v.item + ' 监测值 ' + v.value +
          '（报警值 ' + v.alarm_value + '），' + (v.anomaly === 'true' ? '异常' : '正常') + '。';
      }
    },
    team: {
      fields: [
        ['project_id', '项目编号 project', 'text'],
        ['team_id', '班组编号 team id', 'text'],
        ['name', '班组名称 name', 'text'],
        ['employer', '用工单位信用代码 employer', 'text']
      ],
      stream: function (v) { return 'project/' + v.project_id + '/workforce'; },
      items: function (v) {
        return [{ kind: 'worker.team.formed.v1', payload: pick(v, ['project_id', 'team_id', 'name', 'employer']) }];
      },
      words: function (v) {
        return '用工单位 ' + v.employer + ' 在项目 ' + v.project_id + ' 组建班组 ' + v.name + '（' + v.team_id + '）。';
      }
    },
    worker: {
      note: '证件号码、姓名、电话和银行卡号只送入平台的个人信息库（POST /v1/workforce/people），不写入日志；签名的记录只引用' +
        '个人信息库答复的人员编号 person_ref、承诺值和掩码。 ID and card numbers, name and phone go to the vault only; ' +
        'the signed records cite the person_ref, commitments and masked forms the vault answers.',
      fields: [
        ['project_id', '项目编号 project', 'text'],
        ['employer', '用工单位信用代码 employer', 'text'],
        ['team_id', '班组编号 team id', 'text'],
        ['trade', '工种代码 trade', 'text', function () { return '020'; }],
        ['work_role', '人员类别 work role', 'select', [['20', '建筑工人 worker'], ['10', '管理人员 manager']]],
        ['id_type', '证件类型 document type', 'select', [['01', '居民身份证 resident ID']]],
        ['id_number', '证件号码（仅送入个人信息库）ID number', 'text', null, { vault: true }],
        ['person_name', '姓名（仅送入个人信息库）name', 'text', null, { vault: true }],
        ['phone', '电话（可空，仅送入个人信息库）phone', 'tel', null, { vault: true }],
        ['card_number', '工资卡号（可空，仅送入个人信息库）wage card', 'text', null, { vault: true }],
        ['bank_name', '开户银行 bank', 'text']
      ],
      stream: function (v) { return 'project/' + v.project_id + '/workforce'; },
      prepare: function (v, secret) {
        var body = { id_type: v.id_type, id_number: secret.id_number, name: secret.person_name };
        if (secret.phone) body.phone = secret.phone;
        return call('POST', '/v1/workforce/people', body).then(function (p) {
          var out = { person_ref: p.person_ref, id_commitment: p.id_commitment, id_masked: p.id_masked, birth_month: p.birth_month };
          if (!secret.card_number) return out;
          return call('POST', '/v1/workforce/people/' + p.person_ref + '/cards', { card_number: secret.card_number }).then(function (c) {
            out.card_commitment = c.card_commitment;
            out.card_masked = c.card_masked;
            return out;
          }, function (e) { throw fieldError('card_number', e.message); });
        }, function (e) { throw fieldError('id_number', e.message); });
      },
      items: function (v) {
        if (!v.person_ref) return [];
        var r = pick(v, ['project_id', 'person_ref', 'id_type', 'id_commitment', 'id_masked', 'birth_month', 'employer', 'team_id', 'trade', 'work_role']);
        var out = [{ kind: 'worker.registered.v1', payload: r }];
        if (v.card_commitment) {
          var c = pick(v, ['project_id', 'person_ref', 'card_commitment', 'card_masked', 'bank_name']);
          out.push({ kind: 'worker.card.registered.v1', payload: c });
        }
        return out;
      },
      words: function (v) {
        if (!v.person_ref) {
          return '用工单位 ' + v.employer + ' 将在项目 ' + v.project_id + ' 班组 ' + v.team_id + ' 登记一名工人（工种 ' + v.trade +
            '）。提交时证件、姓名、电话和银行卡先送入个人信息库，日志只记录其答复的人员编号和掩码。';
        }
        return '用工单位 ' + v.employer + ' 在项目 ' + v.project_id + ' 班组 ' + v.team_id + ' 登记工人 ' + v.person_ref + '（证件 ' +
          v.id_masked + '，出生年月 ' + v.birth_month + '，工种 ' + v.trade + '）' +
          (v.card_masked ? '，工资卡 ' + v.card_masked + '（' + v.bank_name + '）' : '') + '。';
      }
    },
    payroll: {
      note: '每行一名工人：人员编号, 出勤天数, 工时, 应发(分), 实发(分), 工资卡承诺值, 工资卡掩码[, 补发]；人员编号和卡的承诺值、掩码来自登记工人时个人信息库的答复，不填写卡号。' +
        ' One worker a line: person_ref, days, hours, payable fen, actual fen, card commitment, masked card[, back pay].',
      fields: [
        ['project_id', '项目编号 project', 'text'],
        ['payroll_id', '工资表编号 payroll id', 'text'],
        ['team_id', '班组编号 team id', 'text'],
        ['employer', '用工单位信用代码 employer', 'text'],
        ['month', '工资所属月份 month', 'month'],
        ['lines', '工资明细 lines', 'textarea']
      ],
      stream: function (v) { return 'project/' + v.project_id + '/wage'; },
      items: function (v) {
        var p = pick(v, ['project_id', 'payroll_id', 'team_id', 'employer', 'month']);
        p.lines = (v.lines || '').split('\n').map(function (l) { return l.trim(); }).filter(Boolean).map(function (l) {
          var c = l.split(/\s*[,，]\s*/);
          return {
            person_ref: c[0], days: num(c[1] || ''), hours: num(c[2] || ''), payable_fen: num(c[3] || ''), actual_fen: num(c[4] || ''),
            card_commitment: c[5] || '', card_masked: c[6] || '', back_pay: /^(true|1|是|补发)$/.test(c[7] || '')
          };
        });
        return [{ kind: 'wage.payroll.submitted.v1', payload: p }];
      },
      words: function (v) {
        var lines = (v.lines || '').split('\n').filter(function (l) { return l.trim(); });
        var total = 0;
        lines.forEach(function (l) { total += parseInt(l.split(/[,，]/)[4], 10) || 0; });
        return '用工单位 ' + v.employer + ' 报送项目 ' + v.project_id + ' 班组 ' + v.team_id + ' ' + v.month + ' 工资支付表 ' + v.payroll_id +
          '：' + lines.length + ' 人，实发合计 ' + yuan(String(total)) + '。';
      }
    }
  };

  window.siteledgerPeopleForms = FORMS;
})();
