// The operator console: one module, no framework. Every string the page
// shows comes from i18n/en.json or i18n/zh.json through t(); data from the
// operator API is always put in the page as text, never as markup.

const S = { lang: 'en', dict: {}, session: null, cursors: [] };
const STAGES = ['login', 'order', 'payment', 'withdrawal', 'repayment'];

async function loadDict(lang) {
  const r = await fetch(`i18n/${lang}.json`, { credentials: 'same-origin' });
  S.dict = await r.json();
  S.lang = lang;
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  try { localStorage.setItem('pdp.lang', lang); } catch (_) { /* private mode */ }
}

// t is the text of key in the console's language; a key in no dictionary
// shows as itself and is reported on the browser's console (the browser
// test fails on it).
function t(key, vars) {
  let s = S.dict[key];
  if (s === undefined) { console.warn(`missing dictionary key: ${key}`); s = key; }
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.split(`{${k}}`).join(String(v));
  return s;
}

function translateStatic() {
  for (const n of document.querySelectorAll('[data-i18n]')) n.textContent = t(n.dataset.i18n);
  for (const n of document.querySelectorAll('[data-i18n-placeholder]')) n.placeholder = t(n.dataset.i18nPlaceholder);
  document.title = t('app.title');
}

// el builds an element: attrs are properties (on* handlers included) or,
// for data-/aria- names, attributes; children are nodes or text.
function el(tag, attrs, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('data-') || k.startsWith('aria-') || k === 'for') n.setAttribute(k, v);
    else n[k] = v;
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return n;
}

function flash(msg, kind) {
  const f = document.getElementById('flash');
  f.textContent = msg || '';
  f.className = kind || '';
}

class APIError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status; this.code = e.code; this.field = e.field; this.body = body;
  }
}

// api calls the operator API with the session cookie; changes carry the
// CSRF token. A 401 ends the session here too: back to sign-in.
async function api(method, path, body, contentType) {
  const headers = {};
  if (method !== 'GET' && S.session) headers['X-CSRF-Token'] = S.session.csrf_token;
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = contentType || 'application/json';
    payload = contentType ? body : JSON.stringify(body);
  }
  const r = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  let data = null;
  const text = await r.text();
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = { raw: text }; }
  if (r.status === 401 && path !== '/console/api/session') {
    S.session = null;
    signedOut(t('signin.expired'));
    throw new APIError(r.status, data);
  }
  if (!r.ok && !(r.status === 500 && data && data.lines)) throw new APIError(r.status, data);
  return { status: r.status, data };
}

function errText(e) {
  if (e instanceof APIError) return t('error.api', { status: e.status, code: e.code || '', message: e.message + (e.field ? ` (${e.field})` : '') });
  return String(e);
}

function signedOut(msg) {
  S.session = null;
  document.getElementById('nav').hidden = true;
  if (location.hash !== '#/signin') { S.keepFlash = true; location.hash = '#/signin'; }
  else render();
  flash(msg || '', msg ? 'error' : '');
}

function fmtTime(s) {
  if (!s || s.startsWith('0001-')) return '';
  const d = new Date(s);
  return isNaN(d) ? s : d.toLocaleString(S.lang === 'zh' ? 'zh-CN' : 'en-GB');
}

function section(title, id, ...content) {
  return el('section', { id }, el('h2', {}, title), ...content);
}

function field(labelKey, input) {
  return el('label', {}, t(labelKey), input);
}

// who are the reason and ticket fields every change carries.
function whoFields(prefix) {
  return [
    field('form.reason', el('input', { name: 'reason', id: `${prefix}-reason`, required: true })),
    field('form.ticket', el('input', { name: 'ticket', id: `${prefix}-ticket`, required: true })),
  ];
}

function who(form) {
  return { operator: S.session.name, reason: form.elements.reason.value, ticket: form.elements.ticket.value };
}

function actionForm(id, titleKey, inputs, submitKey, onSubmit) {
  const f = el('form', { className: 'action', id }, el('strong', {}, t(titleKey)), ...inputs,
    el('button', { type: 'submit', id: `${id}-submit` }, t(submitKey)));
  f.onsubmit = async ev => {
    ev.preventDefault();
    flash('');
    try {
      const msg = await onSubmit(f);
      flash(msg || t('action.done'), 'ok');
    } catch (e) {
      if (!(e instanceof APIError && e.status === 401)) flash(errText(e), 'error');
    }
  };
  return f;
}

// ---- pages

function pageSignIn(main) {
  document.getElementById('nav').hidden = true;
  const f = el('form', { id: 'signin-form' },
    el('h2', {}, t('signin.title')),
    el('p', { className: 'muted' }, t('signin.help')),
    field('signin.token', el('input', { type: 'password', id: 'signin-token', name: 'token', autocomplete: 'off', required: true })),
    el('p', {}, el('button', { type: 'submit', id: 'signin-submit' }, t('signin.submit'))));
  f.onsubmit = async ev => {
    ev.preventDefault();
    try {
      const r = await api('POST', '/console/api/session', { token: f.elements.token.value });
      S.session = r.data;
      flash('');
      location.hash = '#/queue';
    } catch (e) {
      flash(e instanceof APIError && e.status === 401 ? t('signin.wrong') : errText(e), 'error');
    }
  };
  main.append(el('div', { className: 'signin' }, f));
}

function queueParams() {
  const q = new URLSearchParams(location.hash.split('?')[1] || '');
  return q;
}

async function pageQueue(main) {
  const q = queueParams();
  if (!q.has('after')) S.cursors = [];
  const kind = el('select', { name: 'kind', id: 'q-kind' }, el('option', { value: '' }, t('queue.any')),
    ['case', 'review', 'approval', 'appeal'].map(k => el('option', { value: k, selected: q.get('kind') === k }, t(`queue.kind.${k}`))));
  const stage = el('select', { name: 'stage', id: 'q-stage' }, el('option', { value: '' }, t('queue.any')),
    STAGES.map(s => el('option', { value: s, selected: q.get('stage') === s }, s)));
  const f = el('form', { className: 'action', id: 'queue-filters' },
    field('queue.kind', kind),
    field('queue.flag', el('input', { name: 'flag', id: 'q-flag', value: q.get('flag') || '' })),
    field('queue.stage', stage),
    field('queue.min_age', el('input', { name: 'min_age', id: 'q-min-age', placeholder: '1h', value: q.get('min_age') || '' })),
    field('queue.assignee', el('input', { name: 'assignee', id: 'q-assignee', placeholder: 'none', value: q.get('assignee') || '' })),
    el('label', {}, t('queue.mine'), el('input', { type: 'checkbox', name: 'mine', id: 'q-mine', checked: q.get('mine') === 'true' })),
    field('queue.limit', el('input', { name: 'limit', id: 'q-limit', type: 'number', min: 1, max: 500, value: q.get('limit') || '50' })),
    el('button', { type: 'submit', id: 'q-apply' }, t('queue.apply')));
  f.onsubmit = ev => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const k of ['kind', 'flag', 'stage', 'min_age', 'assignee', 'limit']) if (f.elements[k].value) p.set(k, f.elements[k].value);
    if (f.elements.mine.checked) p.set('mine', 'true');
    S.cursors = [];
    location.hash = `#/queue?${p}`;
  };
  main.append(section(t('queue.title'), 'queue', f, el('div', { id: 'queue-body' }, t('common.loading'))));
  const r = await api('GET', `/admin/v1/queue?${q}`);
  const items = r.data.items || [];
  const body = document.getElementById('queue-body');
  body.textContent = '';
  body.append(el('p', { className: 'muted', id: 'queue-answer-time' }, t('queue.answer_time', { d: fmtDur(r.data.answer_time) })));
  if (items.length === 0) body.append(el('p', { id: 'queue-empty' }, t('queue.empty')));
  else {
    const head = el('tr', {}, ['queue.col.uid', 'queue.col.kind', 'queue.col.flags', 'queue.col.stages', 'queue.col.since',
      'queue.col.waited', 'queue.col.due', 'queue.col.assignee', ''].map(k => el('th', {}, k ? t(k) : '')));
    const rows = items.map(it => {
      const claim = el('button', { className: 'claim', 'data-uid': it.uid }, t('queue.claim'));
      claim.onclick = async () => {
        try { await api('POST', `/admin/v1/accounts/${encodeURIComponent(it.uid)}/claim`); flash(t('queue.claimed', { uid: it.uid }), 'ok'); render(); }
        catch (e) { if (!(e instanceof APIError && e.status === 401)) flash(errText(e), 'error'); }
      };
      return el('tr', { className: it.overdue ? 'overdue' : '', 'data-uid': it.uid, 'data-kind': it.kind },
        el('td', {}, el('a', { href: `#/account/${encodeURIComponent(it.uid)}` }, it.uid)),
        el('td', {}, t(`queue.kind.${it.kind}`), it.id && it.id !== it.kind ? el('span', { className: 'muted' }, ` ${it.id}`) : null),
        el('td', {}, (it.flags || []).join(', ')), el('td', {}, (it.stages || []).join(', ')),
        el('td', {}, fmtTime(it.since)), el('td', {}, it.waited),
        el('td', {}, fmtTime(it.due_at), it.overdue ? el('span', {}, ` ${t('queue.overdue')}`) : null),
        el('td', {}, it.assignee || el('span', { className: 'muted' }, t('queue.unassigned'))),
        el('td', {}, it.assignee === S.session.name ? '' : claim));
    });
    body.append(el('table', { id: 'queue-table' }, el('thead', {}, head), el('tbody', {}, rows)));
  }
  const pager = el('p', { id: 'queue-pager' });
  if (S.cursors.length > 0) {
    const prev = el('button', { id: 'q-prev' }, t('queue.prev'));
    prev.onclick = () => { S.cursors.pop(); const p = queueParams(); const c = S.cursors[S.cursors.length - 1]; if (c) p.set('after', c); else p.delete('after'); location.hash = `#/queue?${p}`; };
    pager.append(prev);
  }
  if (r.data.next_after) {
    const next = el('button', { id: 'q-next' }, t('queue.next'));
    next.onclick = () => { S.cursors.push(r.data.next_after); const p = queueParams(); p.set('after', r.data.next_after); location.hash = `#/queue?${p}`; };
    pager.append(next);
  }
  body.append(pager);
}

// ---- the account page: every part of the account view in a table whose
// columns are labelled (f.* in the dictionaries), each value as text.

function fmtNum(n) {
  return typeof n === 'number' ? n.toLocaleString(S.lang === 'zh' ? 'zh-CN' : 'en-GB', { maximumFractionDigits: 2 }) : String(n ?? '');
}
const yes = v => (v ? t('common.yes') : t('common.no'));
const money = (amount, currency) => (amount === undefined || amount === null ? '' : `${fmtNum(amount)} ${currency || ''}`.trim());
const joined = xs => (xs || []).join(', ');
// fmtDur shortens Go's duration text: 24h0m0s is 24h, 30m0s is 30m.
const fmtDur = s => (s ? String(s).replace(/([hm])0s$/, '$1').replace(/h0m$/, 'h') : '');
const actorText = a => (a ? [a.operator, a.reason, a.ticket].filter(Boolean).join(' · ') : '');
// detailText is a journal record's detail as "key: value" lines.
function detailText(d) {
  if (d === null || d === undefined) return '';
  if (typeof d !== 'object') return String(d);
  // A detail's keys are data: a key without a label shows as written.
  return Object.entries(d).map(([k, v]) => `${S.dict[`f.${k}`] ?? k}: ${v !== null && typeof v === 'object' && !Array.isArray(v) ? JSON.stringify(v) : Array.isArray(v) ? v.join(', ') : fmtField(k, v)}`).join('\n');
}
function fmtField(k, v) {
  if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v)) return fmtTime(v);
  if (k === 'probation' || k === 'duration' || k === 'ttl') return fmtDur(v);
  return typeof v === 'number' ? fmtNum(v) : String(v);
}

// grid is rows as a table: cols are [key, format(value, row)] (format
// optional), headed by the key's label; extra(row) adds a last cell.
function grid(id, rows, cols, extra) {
  if (!rows || !rows.length) return el('p', { className: 'muted' }, t('common.none'));
  const head = el('tr', {}, cols.map(([k]) => el('th', {}, t(`f.${k}`))), extra ? el('th', {}, '') : null);
  const body = rows.map(r => el('tr', {}, cols.map(([k, f]) => el('td', { className: `c-${k}` }, f ? f(r[k], r) : fmtField(k, r[k] ?? ''))),
    extra ? el('td', {}, extra(r)) : null));
  return el('table', { id }, el('thead', {}, head), el('tbody', {}, body));
}

// pairs is an object as a two-column table of label and value.
function pairs(id, obj, keys, fmt) {
  return el('table', { id, className: 'pairs' }, el('tbody', {}, keys.map(k =>
    el('tr', {}, el('th', {}, t(`f.${k}`)), el('td', {}, fmt ? fmt(k, obj[k]) : fmtField(k, obj[k] ?? ''))))));
}

const ACCOUNT_COLS = {
  freezes: [['kind', v => t(`freeze.${v}`)], ['functions', v => (v && v.length ? joined(v) : t('freeze.every_function'))], ['active', yes],
    ['since'], ['until', v => (v ? fmtTime(v) : t('common.no_end'))],
    ['by', (v, r) => [actorText(v), r.rule && t('freeze.by_rule', { rule: r.rule }), r.txn_id].filter(Boolean).join(' · ')]],
  limits: [['max_amount', (v, r) => money(v, r.currency)], ['daily_amount', (v, r) => money(v, r.currency)], ['duration', fmtDur], ['until']],
  verifications: [['updated_at'], ['stage'], ['txn_id'], ['amount', (v, r) => money(v, r.currency)], ['device_id'], ['methods', joined],
    ['results', v => Object.entries(v || {}).map(([m, x]) => `${m}: ${x}`).join(', ')], ['status'], ['expires_at']],
  payments: [['at'], ['stage'], ['txn_id'], ['amount', (v, r) => money(v, r.currency)], ['category'], ['reasons', joined],
    ['outcomes', v => (v || []).map(o => `${o.status} ${fmtTime(o.at)}`).join(', ')], ['labels', joined]],
  decisions: [['at'], ['stage'], ['txn_id'], ['amount', (v, r) => money(v, r.currency)], ['outcome', v => el('span', { className: `outcome ${v}` }, v)], ['reasons', joined]],
  recent_events: [['at'], ['kind'], ['device_id']],
  devices: [['id'], ['first_seen'], ['last_seen']],
  destinations: [['id'], ['first_seen'], ['last_seen']],
  flags: [['at'], ['kind'], ['reason'], ['txn_id']],
  notes: [['at'], ['by', actorText], ['text']],
  trail: [['seq'], ['at'], ['action'], ['actor', actorText], ['detail', (v, r) => el('pre', {}, r.action === 'decision' && v ? decisionText(v) : detailText(v))]],
  approvals: [['at'], ['action'], ['requester'], ['why'], ['probation', fmtDur], ['by', actorText]],
  appeals: [['at'], ['reason'], ['documents', joined], ['status', v => t(`appeal.${v}`)], ['closed_at'], ['answer']],
  window: [['window'], ['count_1m'], ['count_1h'], ['count_24h'], ['amount_1m'], ['amount_1h'], ['amount_24h'], ['logins_1h']],
  status_appeals: [['lodged_at'], ['status', v => t(`appeal.${v}`)], ['answer_due_at'], ['answered_at'], ['answer']],
};

function decisionText(d) {
  return [`${d.outcome} ${joined(d.reasons)}`, d.amount ? money(d.amount, d.currency) : '', d.decision_id].filter(Boolean).join('\n');
}

// userStatus shows what the app shows the user: the decision API's
// account status (GET /v1/accounts/{uid}/status) in the console's
// language, read through the operator API.
async function userStatus(u) {
  let s;
  try { s = (await api('GET', `/admin/v1/accounts/${u}/user-status?locale=${S.lang}`)).data; }
  catch (e) { if (e.status === 401) throw e; return el('p', { className: 'muted', id: 'status-text' }, errText(e)); }
  return [
    el('p', { className: `status-text standing-${s.status}`, id: 'status-text' }, s.message),
    pairs('status-facts', s, ['status', 'functions', 'until', 'can_appeal'], (k, v) => (k === 'status' ? t(`standing.${v}`) :
      k === 'functions' ? (v.length ? joined(v) : t('common.none')) : k === 'until' ? (v ? fmtTime(v) : t('common.no_end')) : yes(v))),
    s.appeals.length ? grid('status-appeals', s.appeals, ACCOUNT_COLS.status_appeals) : null,
    el('p', { className: 'muted' }, t('account.status_note'))];
}

async function pageAccount(main, uid) {
  const u = encodeURIComponent(uid);
  const [acc, trail, status] = await Promise.all([
    api('GET', `/admin/v1/accounts/${u}`),
    api('GET', `/admin/v1/cases/${u}?limit=500`),
    userStatus(u),
  ]);
  const a = acc.data;
  const records = trail.data.trail || [];
  const reload = () => render();
  const writer = S.session.role === 'write';
  const activeFreezes = (a.freezes || []).filter(f => f.active);
  main.append(el('h2', { id: 'account-title' }, t('account.title', { uid }),
    a.assignee ? el('span', { className: 'muted', id: 'account-assignee' }, ` ${t('account.assigned_to', { name: a.assignee.to, at: fmtTime(a.assignee.at) })}`) : null));
  main.append(section(t('account.status'), 'account-status', status));

  // Actions, for operators who may write: the ones the account's state
  // makes meaningful.
  if (writer) {
    const base = `/admin/v1/accounts/${u}`;
    const forms = [];
    const claim = el('button', { id: 'account-claim', type: 'button' }, t('queue.claim'));
    claim.onclick = async () => { try { await api('POST', `${base}/claim`); await reload(); flash(t('queue.claimed', { uid }), 'ok'); } catch (e) { if (e.status !== 401) flash(errText(e), 'error'); } };
    forms.push(actionForm('f-assign', 'action.assign', [field('form.assignee', el('input', { name: 'assignee', id: 'f-assign-to', placeholder: t('form.assignee_none') })), claim], 'action.assign', async f => {
      await api('POST', `${base}/assign`, { assignee: f.elements.assignee.value }); await reload();
    }));
    const fns = STAGES.map(s => el('label', {}, s, el('input', { type: 'checkbox', name: 'fn', value: s })));
    forms.push(actionForm('f-freeze', 'action.freeze', [
      field('form.kind', el('select', { name: 'kind', id: 'f-freeze-kind' }, ['temporary', 'review', 'permanent'].map(k => el('option', { value: k }, t(`freeze.${k}`))))),
      field('form.duration', el('input', { name: 'duration', placeholder: '30m', size: 6 })),
      el('span', { className: 'grey' }, t('form.grey'), ...fns),
      ...whoFields('f-freeze')], 'action.freeze', async f => {
      const b = { ...who(f), kind: f.elements.kind.value };
      if (f.elements.duration.value) b.duration = f.elements.duration.value;
      const fs = [...f.querySelectorAll('input[name=fn]:checked')].map(x => x.value);
      if (fs.length) b.functions = fs;
      await api('POST', `${base}/freeze`, b); await reload(); return t('action.frozen');
    }));
    if (activeFreezes.length) {
      forms.push(actionForm('f-release', 'action.release', [
        field('form.probation', el('input', { name: 'probation', placeholder: '24h', size: 6 })), ...whoFields('f-release')], 'action.release', async f => {
        const b = who(f);
        if (f.elements.probation.value) b.probation = f.elements.probation.value;
        const r = await api('POST', `${base}/release`, b);
        await reload();
        return r.status === 202 ? t('action.release_waits') : t('action.released');
      }));
    }
    forms.push(actionForm('f-limit', 'action.limit', [
      field('form.daily_amount', el('input', { name: 'daily_amount', type: 'number', step: 'any', min: 0 })),
      field('form.max_amount', el('input', { name: 'max_amount', type: 'number', step: 'any', min: 0 })),
      field('form.currency', el('input', { name: 'currency', placeholder: 'CNY', size: 4 })),
      field('form.duration', el('input', { name: 'duration', placeholder: '24h', size: 6 })), ...whoFields('f-limit')], 'action.limit_set', async f => {
      const b = who(f);
      for (const k of ['daily_amount', 'max_amount']) if (f.elements[k].value) b[k] = Number(f.elements[k].value);
      for (const k of ['currency', 'duration']) if (f.elements[k].value) b[k] = f.elements[k].value;
      await api('PUT', `${base}/limit`, b); await reload();
    }));
    if ((a.limits || []).length) {
      forms.push(actionForm('f-limit-clear', 'action.limit_clear', whoFields('f-limit-clear'), 'action.limit_clear', async f => {
        await api('DELETE', `${base}/limit`, who(f)); await reload();
      }));
    }
    if ((a.flags || []).length) {
      const kinds = [...new Set(a.flags.map(x => x.kind))];
      forms.push(actionForm('f-close', 'action.close', [
        el('span', { className: 'grey' }, t('form.flags_close'), ...kinds.map(k => el('label', {}, k, el('input', { type: 'checkbox', name: 'flag', value: k })))),
        ...whoFields('f-close')], 'action.close', async f => {
        const b = who(f);
        const flags = [...f.querySelectorAll('input[name=flag]:checked')].map(x => x.value);
        if (flags.length) b.flags = flags;
        await api('POST', `/admin/v1/cases/${u}/close`, b); await reload(); return t('action.closed');
      }));
    }
    forms.push(actionForm('f-note', 'action.note', [field('form.text', el('textarea', { name: 'text', rows: 2, cols: 40, required: true })), ...whoFields('f-note')], 'action.note', async f => {
      await api('POST', `${base}/notes`, { ...who(f), text: f.elements.text.value }); await reload();
    }));
    main.append(section(t('account.actions'), 'account-actions', forms));
  }

  // Releases waiting for a second operator: another approves or rejects.
  const approvals = a.approvals || [];
  const base = `/admin/v1/accounts/${u}`;
  main.append(section(t('account.approvals'), 'approvals', grid('approvals-table', approvals, ACCOUNT_COLS.approvals, !writer ? undefined : ap => {
    const f = actionForm(`f-approval-${ap.id}`, 'action.decide', whoFields(`f-approval-${ap.id}`), 'action.approve', async form => {
      await api('POST', `${base}/approvals/${encodeURIComponent(ap.id)}/approve`, who(form)); await reload(); return t('action.approved');
    });
    f.classList.add('approval');
    const rej = el('button', { type: 'button', className: 'reject' }, t('action.reject'));
    rej.onclick = async () => {
      if (!f.reportValidity()) return;
      try { await api('POST', `${base}/approvals/${encodeURIComponent(ap.id)}/reject`, who(f)); await reload(); flash(t('action.rejected'), 'ok'); }
      catch (e) { if (e.status !== 401) flash(errText(e), 'error'); }
    };
    f.append(rej);
    if (ap.requester === S.session.name) f.append(el('span', { className: 'waits' }, t('action.needs_other')));
    return f;
  })));

  // Appeals, each open one with its answer form.
  main.append(section(t('account.appeals'), 'appeals', grid('appeals-table', a.appeals, ACCOUNT_COLS.appeals, !writer ? undefined : ap => ap.status !== 'open' ? '' :
    actionForm(`f-appeal-${ap.id}`, 'action.answer', [
      field('form.outcome', el('select', { name: 'status' }, el('option', { value: 'granted' }, t('appeal.granted')), el('option', { value: 'rejected' }, t('appeal.rejected')))),
      field('form.answer', el('textarea', { name: 'answer', rows: 2, cols: 30, required: true })), ...whoFields(`f-appeal-${ap.id}`)], 'action.answer', async f => {
      await api('POST', `${base}/appeals/${encodeURIComponent(ap.id)}/answer`, { ...who(f), status: f.elements.status.value, answer: f.elements.answer.value }); await reload();
      return t('action.answered');
    }))));

  // The account's state.
  const decisions = records.filter(r => r.action === 'decision' && r.detail).map(r => ({ at: r.at, ...r.detail })).reverse();
  const vel = a.velocity;
  const parts = [
    ['freezes', grid('freezes-table', a.freezes, ACCOUNT_COLS.freezes)],
    ['probation', a.probation ? pairs('probation-table', a.probation, ['active', 'since', 'until', 'reason'], (k, v) => (k === 'active' ? yes(v) : fmtField(k, v ?? ''))) : null],
    ['limits', grid('limits-table', a.limits, ACCOUNT_COLS.limits)],
    ['flags', grid('flags-table', a.flags, ACCOUNT_COLS.flags)],
    ['decisions', grid('decisions-table', decisions, ACCOUNT_COLS.decisions)],
    ['verifications', grid('verifications-table', a.verifications, ACCOUNT_COLS.verifications)],
    ['payments', grid('payments-table', a.payments, ACCOUNT_COLS.payments)],
    ['recent_events', grid('events-table', a.recent_events, ACCOUNT_COLS.recent_events)],
    ['devices', grid('devices-table', a.devices, ACCOUNT_COLS.devices)],
    ['destinations', grid('destinations-table', a.destinations, ACCOUNT_COLS.destinations)],
    ['habit', a.habit && a.habit.count ? pairs('habit-table', a.habit, ['count', 'mean', 'sd', 'categories'], (k, v) =>
      (k === 'sd' ? fmtNum(Math.sqrt(a.habit.var || 0)) : k === 'categories' ? (v || []).map(c => `${c.category} ${Math.round(c.weight * 100)}%`).join(', ') : fmtNum(v))) : null],
    ['velocity', vel ? [grid('velocity-windows', ['uid', 'device', 'ip'].map(w => ({ window: t(`f.${w}`), ...vel[w] })), ACCOUNT_COLS.window),
      pairs('velocity-table', { ...vel, ...Object.fromEntries(Object.entries(vel.failures || {}).map(([k, v]) => [`failures_${k}`, v])) },
        ['spent_24h', 'attempts_1m', 'attempts_1h', 'uid_devices_1h', 'device_uids_1h', ...Object.keys(vel.failures || {}).map(k => `failures_${k}`)])] : null],
    ['lists', pairs('lists-table', a.lists || {}, ['block', 'allow', 'vip'], (k, v) => yes(v))],
    ['notes', grid('notes-table', a.notes, ACCOUNT_COLS.notes)],
  ];
  main.append(el('div', { className: 'grid' }, parts.map(([k, content]) =>
    section(t(`account.${k}`), `sec-${k}`, content ?? el('p', { className: 'muted' }, t('common.none'))))));
  main.append(section(t('account.trail'), 'journal', el('p', { className: 'muted' }, t('account.trail_note')),
    grid('trail-table', records.slice().reverse(), ACCOUNT_COLS.trail),
    trail.data.next_from_seq ? el('p', { className: 'muted' }, t('account.trail_more')) : null));
}

async function pageLists(main) {
  const put = actionForm('f-list', 'lists.entry', [
    field('lists.list', el('select', { name: 'list', id: 'l-list' }, ['block', 'allow', 'vip'].map(x => el('option', { value: x }, x)))),
    field('lists.kind', el('select', { name: 'kind', id: 'l-kind' }, ['uid', 'device', 'ip', 'card_bin'].map(x => el('option', { value: x }, x)))),
    field('lists.value', el('input', { name: 'value', id: 'l-value', required: true })),
    field('lists.ttl', el('input', { name: 'ttl', placeholder: '72h' })), ...whoFields('f-list')], 'lists.put', async f => {
    const b = who(f);
    if (f.elements.ttl.value) b.ttl = f.elements.ttl.value;
    await api('PUT', `/admin/v1/lists/${f.elements.list.value}/${f.elements.kind.value}/${encodeURIComponent(f.elements.value.value)}`, b);
    showEntries(f.elements.list.value, f.elements.kind.value);
  });
  const del = el('button', { type: 'button', id: 'f-list-delete' }, t('lists.delete'));
  del.onclick = async () => {
    try {
      await api('DELETE', `/admin/v1/lists/${put.elements.list.value}/${put.elements.kind.value}/${encodeURIComponent(put.elements.value.value)}`, who(put));
      flash(t('action.done'), 'ok'); showEntries(put.elements.list.value, put.elements.kind.value);
    } catch (e) { if (e.status !== 401) flash(errText(e), 'error'); }
  };
  const show = el('button', { type: 'button', id: 'f-list-show' }, t('lists.show'));
  show.onclick = () => showEntries(put.elements.list.value, put.elements.kind.value);
  put.append(del, show);

  const file = el('input', { type: 'file', accept: '.csv,text/csv', id: 'import-file' });
  const csv = el('textarea', { name: 'csv', id: 'import-csv', rows: 6, cols: 60, placeholder: 'list,kind,value,ttl,reason' });
  file.onchange = async () => { if (file.files[0]) csv.value = await file.files[0].text(); };
  const imp = actionForm('f-import', 'lists.import', [csv, file,
    el('label', {}, t('lists.dry_run'), el('input', { type: 'checkbox', name: 'dry_run', id: 'import-dry' })), ...whoFields('f-import')], 'lists.import_submit', async f => {
    const p = new URLSearchParams({ ...who(f), dry_run: f.elements.dry_run.checked ? 'true' : 'false' });
    const r = await api('POST', `/admin/v1/lists/import?${p}`, csv.value, 'text/csv');
    const rep = document.getElementById('import-report');
    rep.textContent = '';
    rep.append(el('p', { id: 'import-summary' }, t('lists.report', { imported: r.data.imported ?? 0, refused: r.data.refused ?? 0 })),
      grid('import-lines', r.data.lines, [['line'], ['status', v => t(`import.${v}`)], ['value'],
        ['error', v => (v ? `${v.field ? `${v.field}: ` : ''}${v.message} (${v.code})` : '')]]));
    return r.status === 500 ? t('lists.partial') : t('action.done');
  });
  main.append(section(t('lists.title'), 'lists', put, el('div', { id: 'entries' })),
    section(t('lists.import'), 'import', imp, el('div', { id: 'import-report' })));
}

// showEntries lists a list's entries of a kind, 100 a page from after.
async function showEntries(list, kind, after) {
  try {
    const r = await api('GET', `/admin/v1/lists/${list}/${kind}?limit=100${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    const box = document.getElementById('entries');
    box.textContent = '';
    let more = null;
    if (r.data.next_after) {
      more = el('button', { type: 'button', id: 'entries-next' }, t('queue.next'));
      more.onclick = () => showEntries(list, kind, r.data.next_after);
    }
    box.append(el('h3', {}, t('lists.entries_of', { list, kind })), grid('entries-table', r.data.entries, [['value'], ['reason'], ['created'],
      ['expires', v => (v ? fmtTime(v) : t('common.no_end'))], ['by', actorText]]), more);
  } catch (e) { if (e.status !== 401) flash(errText(e), 'error'); }
}

// ---- routing

async function render() {
  translateStatic();
  const main = document.getElementById('main');
  main.textContent = '';
  const h = location.hash || '#/queue';
  if (!S.session && h !== '#/signin') {
    try { S.session = (await api('GET', '/console/api/session')).data; } catch (_) { S.session = null; }
    if (!S.session) { signedOut(); return; }
  }
  if (h === '#/signin') { pageSignIn(main); return; }
  const nav = document.getElementById('nav');
  nav.hidden = false;
  document.getElementById('who').textContent = t('nav.who', { name: S.session.name, role: t(`role.${S.session.role}`) });
  try {
    if (h.startsWith('#/account/')) await pageAccount(main, decodeURIComponent(h.slice('#/account/'.length)));
    else if (h.startsWith('#/lists')) await pageLists(main);
    else await pageQueue(main);
  } catch (e) {
    if (!(e instanceof APIError && e.status === 401)) flash(errText(e), 'error');
  }
}

async function start() {
  let lang = 'en';
  try { lang = localStorage.getItem('pdp.lang') || (navigator.language.startsWith('zh') ? 'zh' : 'en'); } catch (_) { /* none */ }
  await loadDict(lang);
  const sel = document.getElementById('lang');
  sel.value = lang;
  sel.onchange = async () => { await loadDict(sel.value); render(); };
  document.getElementById('signout').onclick = async () => {
    try { await api('DELETE', '/console/api/session'); } catch (_) { /* ended anyway */ }
    signedOut(t('signin.signed_out'));
  };
  document.getElementById('goto').onsubmit = ev => {
    ev.preventDefault();
    const v = document.getElementById('goto-uid').value.trim();
    if (v) location.hash = `#/account/${encodeURIComponent(v)}`;
  };
  window.addEventListener('hashchange', () => {
    // A new page starts without the last page's message, unless the
    // change of page is the message's (signed out, session ended).
    if (S.keepFlash) S.keepFlash = false;
    else flash('');
    render();
  });
  await render();
  document.body.dataset.ready = 'true';
}

start();
