/**
 * The console's script, served as `/_console/console.js` (same origin, no build step, no dependencies). Plain ES2017
 * so any current browser runs it. It only calls the admin API, with the token typed into the page when the sandbox
 * has one; every value from the API is put in the page as text, never as HTML.
 */
export const CONSOLE_SCRIPT = String.raw`'use strict';
(function () {
  var base = document.body.getAttribute('data-base') || '';
  var tokenInput = document.getElementById('token');
  var statusLine = document.getElementById('status');
  var answerBox = document.getElementById('answer');
  var FLOW_STATUSES = {
    etc: ['SIGNING', 'COMPLETED', 'REVOKED', 'EXPIRED', 'REJECTED'],
    tencent: ['SIGNING', 'COMPLETED', 'REVOKED', 'EXPIRED', 'REJECTED', 'INVALIDATED', 'RESCINDED'],
    esign: ['SIGNING', 'COMPLETED', 'REVOKED', 'EXPIRED', 'REJECTED']
  };
  var NAMES = { etc: 'ETC', tencent: 'Tencent ESS', esign: 'e签宝', yuansfer: 'Yuansfer' };

  try { tokenInput.value = sessionStorage.getItem('sandbox-admin-token') || ''; } catch (e) { /* storage off */ }
  tokenInput.addEventListener('change', function () {
    try { sessionStorage.setItem('sandbox-admin-token', tokenInput.value); } catch (e) { /* storage off */ }
    refresh();
  });

  function admin(method, path, body) {
    var headers = { 'accept': 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (tokenInput.value) headers['authorization'] = 'Bearer ' + tokenInput.value;
    return fetch(base + '/_admin' + path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (res) {
        return res.text().then(function (text) {
          var json;
          try { json = text ? JSON.parse(text) : {}; } catch (e) { json = { error: text }; }
          return { status: res.status, ok: res.ok, body: json };
        });
      });
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === 'text') node.textContent = attrs[name];
      else if (name === 'onclick') node.addEventListener('click', attrs[name]);
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function show(what, answer) {
    answerBox.textContent = what + ' → HTTP ' + answer.status + '\n' + JSON.stringify(answer.body, null, 2);
    answerBox.setAttribute('data-status', String(answer.status));
  }

  function act(what, method, path, body) {
    return admin(method, path, body).then(function (answer) {
      show(what, answer);
      return refresh();
    });
  }

  function flowRow(provider, flow) {
    var id = flow.flowId || flow.signFlowId;
    var status = flow.statusName || flow.status;
    var buttons = FLOW_STATUSES[provider].map(function (next) {
      return el('button', {
        type: 'button', text: next, 'data-action': 'transition', 'data-to': next,
        onclick: function () { act(NAMES[provider] + ' ' + id + ' → ' + next, 'POST', '/' + provider + '/flows/' + encodeURIComponent(id) + '/transition', { status: next }); }
      });
    });
    return el('tr', { 'data-flow': id, 'data-provider': provider }, [
      el('td', { 'class': 'id', text: id }),
      el('td', { 'class': 'state', 'data-state': status, text: status + (flow.statusName && flow.status !== undefined ? ' (' + flow.status + ')' : '') }),
      el('td', { 'class': 'actions' }, buttons)
    ]);
  }

  function authorizationRow(a) {
    var buttons = [
      el('button', { type: 'button', text: 'authorize', 'data-action': 'authorize', onclick: function () { act('Yuansfer ' + a.autoDebitNo + ' authorize', 'POST', '/yuansfer/auto-debits/' + encodeURIComponent(a.autoDebitNo) + '/authorize', {}); } }),
      el('button', { type: 'button', text: 'revoke', 'data-action': 'revoke', onclick: function () { act('Yuansfer ' + a.autoDebitNo + ' revoke', 'POST', '/yuansfer/auto-debits/' + encodeURIComponent(a.autoDebitNo) + '/revoke', {}); } })
    ];
    return el('tr', { 'data-flow': a.autoDebitNo, 'data-provider': 'yuansfer' }, [
      el('td', { 'class': 'id', text: a.autoDebitNo }),
      el('td', { 'class': 'state', 'data-state': a.status, text: a.status }),
      el('td', { 'class': 'actions' }, buttons)
    ]);
  }

  function renderFlows(providers) {
    ['etc', 'tencent', 'esign', 'yuansfer'].forEach(function (provider) {
      var body = document.querySelector('#' + provider + ' tbody');
      var list = providers[provider] || [];
      body.textContent = '';
      if (list.length === 0) body.appendChild(el('tr', {}, [el('td', { colspan: '3', 'class': 'empty', text: 'none yet' })]));
      list.slice().reverse().forEach(function (item) {
        body.appendChild(provider === 'yuansfer' ? authorizationRow(item) : flowRow(provider, item));
      });
    });
  }

  function renderCallbacks(callbacks) {
    var body = document.querySelector('#callbacks tbody');
    body.textContent = '';
    if (callbacks.length === 0) body.appendChild(el('tr', {}, [el('td', { colspan: '6', 'class': 'empty', text: 'no callback sent yet' })]));
    callbacks.slice().reverse().forEach(function (cb) {
      var last = cb.attempts[cb.attempts.length - 1];
      var answer = last ? (last.status !== undefined ? 'HTTP ' + last.status + ' ' + (last.response || '') : (last.error || '')) : (cb.refusedReason || '');
      body.appendChild(el('tr', { 'data-callback': cb.id, 'data-provider': cb.provider, 'data-subject': cb.subject || '' }, [
        el('td', { text: cb.queuedAt.replace('T', ' ').slice(0, 19) }),
        el('td', { text: NAMES[cb.provider] || cb.provider }),
        el('td', { text: cb.event }),
        el('td', { 'class': 'id', text: cb.subject || '' }),
        el('td', { 'class': 'state', 'data-state': cb.state, text: cb.state + ' (' + cb.attempts.length + ' attempt' + (cb.attempts.length === 1 ? '' : 's') + ')' }),
        el('td', { 'class': 'answer', text: answer })
      ]));
    });
  }

  var refreshing = null;
  function refresh() {
    if (refreshing) return refreshing;
    refreshing = Promise.all([admin('GET', '/flows'), admin('GET', '/callbacks')]).then(function (answers) {
      var flows = answers[0];
      var callbacks = answers[1];
      if (!flows.ok) {
        statusLine.textContent = 'admin API: HTTP ' + flows.status + ' ' + (flows.body.error || '');
        statusLine.className = 'bad';
        return;
      }
      statusLine.textContent = 'updated ' + new Date().toLocaleTimeString();
      statusLine.className = 'ok';
      renderFlows(flows.body.providers || {});
      if (callbacks.ok) renderCallbacks(callbacks.body.callbacks || []);
    }).catch(function (error) {
      statusLine.textContent = 'admin API unreachable: ' + error.message;
      statusLine.className = 'bad';
    }).then(function () { refreshing = null; });
    return refreshing;
  }

  Array.prototype.forEach.call(document.querySelectorAll('[data-create]'), function (button) {
    var provider = button.getAttribute('data-create');
    button.addEventListener('click', function () {
      if (provider === 'yuansfer') act('Yuansfer: new authorization', 'POST', '/yuansfer/auto-debits', { notify: true });
      else act(NAMES[provider] + ': new flow', 'POST', '/' + provider + '/flows', {});
    });
  });
  document.getElementById('reset').addEventListener('click', function () {
    if (window.confirm('Forget every emulated flow, authorization and callback, and the API\'s records of them?')) act('reset', 'POST', '/reset', {});
  });
  document.getElementById('refresh').addEventListener('click', refresh);

  refresh();
  setInterval(function () { if (document.getElementById('live').checked) refresh(); }, 1000);
})();
`;
