// app.js: the ftpx web client. One page: a login form, then a folder listing with
// navigation, download, rename, delete, new folder, the quota and messages. Uploads (the
// file picker, the drop zone, the queue and the tus exchange) are upload.js's, which is
// loaded before this file and started by setup() below.
// No framework and nothing loaded from elsewhere; no inline code (the server's CSP).
(function () {
  'use strict';

  var API = '/api/v1/';

  var session = { user: '', csrf: '' };
  var cwd = '/';
  var listSeq = 0; // answers to older listings are ignored
  var uploads = null; // upload.js's queue, from setup()

  function $(id) { return document.getElementById(id); }

  function el(tag, props, children) {
    var e = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (k) {
        if (k === 'text') e.textContent = props[k];
        else if (k === 'class') e.className = props[k];
        else if (k.indexOf('data-') === 0 || k === 'download' || k === 'type' || k === 'aria-label') e.setAttribute(k, props[k]);
        else e[k] = props[k];
      });
    }
    (children || []).forEach(function (c) { e.appendChild(c); });
    return e;
  }

  // ---- paths and formats ----

  function segments(p) { return p.split('/').filter(function (s) { return s !== ''; }); }

  // encodePath turns a home path into its URL form: each segment percent-encoded.
  function encodePath(p) { return segments(p).map(encodeURIComponent).join('/'); }

  function joinPath(dir, name) { return (dir === '/' ? '' : dir) + '/' + name; }

  function fmtSize(n) {
    if (n < 1024) return n + ' B';
    var units = ['KB', 'MB', 'GB', 'TB'];
    var v = n / 1024;
    var i = 0;
    while (i < units.length - 1 && v.toFixed(1) >= 1024) { v /= 1024; i++; }
    return v.toFixed(1) + ' ' + units[i];
  }

  function pad(n) { return n < 10 ? '0' + n : '' + n; }

  function fmtTime(rfc3339) {
    var d = new Date(rfc3339);
    if (isNaN(d.getTime())) return '';
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes());
  }

  // ---- requests ----

  function HttpError(status, message) {
    this.status = status;
    this.message = message;
  }
  HttpError.prototype = Object.create(Error.prototype);

  async function errorOf(res) {
    var text = '';
    try {
      var j = await res.json();
      text = j && j.error ? j.error : '';
    } catch (e) { /* not JSON */ }
    return new HttpError(res.status, text || res.statusText || 'HTTP ' + res.status);
  }

  // request calls the API. A 401 ends the session on the page (the login form shows);
  // answers other than 2xx throw an HttpError carrying the server's error text.
  async function request(method, url, opts) {
    opts = opts || {};
    var headers = opts.headers || {};
    if (method !== 'GET' && method !== 'HEAD' && session.csrf) headers['X-CSRF-Token'] = session.csrf;
    var res;
    try {
      res = await fetch(url, { method: method, headers: headers, body: opts.body, credentials: 'same-origin', cache: 'no-store' });
    } catch (e) {
      throw new HttpError(0, 'cannot reach the server');
    }
    if (res.status === 401 && !opts.login) {
      sessionEnded();
      throw new HttpError(401, 'the session ended: log in again');
    }
    if (!res.ok && !(opts.accept && opts.accept.indexOf(res.status) >= 0)) throw await errorOf(res);
    return res;
  }

  function postJSON(url, body, opts) {
    opts = opts || {};
    opts.headers = { 'Content-Type': 'application/json' };
    opts.body = JSON.stringify(body);
    return request('POST', url, opts);
  }

  // ---- session ----

  function showLogin(text) {
    $('app').hidden = true;
    $('account').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = text || '';
    $('login-submit').disabled = false;
    var user = $('login-user');
    (user.value ? $('login-password') : user).focus();
  }

  function enter(who) {
    session.user = who.user;
    session.csrf = who.csrf;
    $('whoami').textContent = who.user;
    $('login').hidden = true;
    $('login-error').textContent = '';
    $('login-password').value = '';
    $('account').hidden = false;
    $('app').hidden = false;
    setMessage('');
    cwd = pathFromHash();
    refresh();
  }

  // sessionEnded is called on any 401: the server no longer knows the cookie.
  function sessionEnded() {
    if (session.user === '') return; // told already (several requests may meet the 401)
    session.user = '';
    session.csrf = '';
    uploads.stop('interrupted: log in and choose the file again to resume');
    showLogin('Your session ended. Log in again.');
  }

  async function onLogin(ev) {
    ev.preventDefault();
    var user = $('login-user').value.trim();
    var password = $('login-password').value;
    $('login-error').textContent = '';
    $('login-submit').disabled = true;
    try {
      var res = await postJSON(API + 'login', { user: user, password: password }, { login: true });
      enter(await res.json());
    } catch (e) {
      $('login-error').textContent = e.status === 401 ? (e.message || 'wrong username or password') : e.message;
      $('login-password').value = '';
      $('login-password').focus();
    } finally {
      $('login-submit').disabled = false;
    }
  }

  async function onLogout() {
    try {
      await request('POST', API + 'logout', { login: true, accept: [401] });
    } catch (e) { /* the page logs out whatever the server says */ }
    session.user = '';
    session.csrf = '';
    uploads.stop('interrupted: choose the file again to resume');
    $('uploads').replaceChildren();
    $('listing').tBodies[0].replaceChildren();
    $('path').replaceChildren();
    $('quota').textContent = '';
    showLogin('');
  }

  async function boot() {
    try {
      var res = await request('GET', API + 'session', { login: true, accept: [401] });
      if (res.status === 200) { enter(await res.json()); return; }
      showLogin('');
    } catch (e) {
      showLogin(e.message);
    }
  }

  // ---- folder view ----

  function setMessage(text) { $('message').textContent = text || ''; }

  function pathFromHash() {
    var h = location.hash.replace(/^#/, '');
    try {
      return '/' + segments(h).map(decodeURIComponent).join('/');
    } catch (e) {
      return '/';
    }
  }

  function go(p) {
    cwd = p;
    var want = '#/' + encodePath(p);
    if (location.hash !== want) history.pushState(null, '', want);
    refresh();
  }

  function onHistory() {
    if (!session.user) return;
    var p = pathFromHash();
    if (p !== cwd) { cwd = p; refresh(); }
  }

  function refresh() {
    listFolder();
    showQuota();
  }

  function renderPath() {
    var nav = $('path');
    var parts = segments(cwd);
    var crumbs = [el('a', { class: 'crumb', href: '#/', 'data-path': '/', text: 'home' })];
    var p = '';
    parts.forEach(function (s) {
      p += '/' + s;
      crumbs.push(el('span', { class: 'sep', text: '/' }));
      crumbs.push(el('a', { class: 'crumb', href: '#/' + encodePath(p), 'data-path': p, text: s }));
    });
    crumbs[crumbs.length - 1].classList.add('here');
    crumbs.forEach(function (c) {
      if (!c.classList.contains('crumb')) return;
      c.addEventListener('click', function (ev) { ev.preventDefault(); go(c.getAttribute('data-path')); });
    });
    nav.replaceChildren.apply(nav, crumbs);
  }

  async function listFolder() {
    var seq = ++listSeq;
    var dir = cwd;
    renderPath();
    try {
      var res = await request('GET', API + 'ls/' + encodePath(dir));
      var entries = await res.json();
      if (seq !== listSeq) return;
      entries = entries || [];
      var dirs = entries.filter(function (e) { return e.is_dir; });
      var files = entries.filter(function (e) { return !e.is_dir; });
      var body = $('listing').tBodies[0];
      body.replaceChildren.apply(body, dirs.concat(files).map(function (e) { return row(dir, e); }));
      $('empty').hidden = entries.length > 0;
    } catch (e) {
      if (seq !== listSeq || e.status === 401) return;
      $('listing').tBodies[0].replaceChildren();
      $('empty').hidden = true;
      setMessage(e.message);
    }
  }

  async function showQuota() {
    try {
      var q = await (await request('GET', API + 'quota')).json();
      $('quota').textContent = q.quota < 0 ? fmtSize(q.used) + ' used' : fmtSize(q.used) + ' used of ' + fmtSize(q.quota);
    } catch (e) {
      if (e.status !== 401) $('quota').textContent = '';
    }
  }

  function nameCell(td, dir, e) {
    var p = joinPath(dir, e.name);
    var child;
    if (e.is_dir) {
      child = el('a', { class: 'open', href: '#/' + encodePath(p), text: e.name });
      child.addEventListener('click', function (ev) { ev.preventDefault(); go(p); });
    } else {
      child = el('span', { class: 'file', text: e.name });
    }
    td.replaceChildren(child);
  }

  function row(dir, e) {
    var p = joinPath(dir, e.name);
    var tr = el('tr', { 'data-name': e.name });
    if (e.is_dir) tr.setAttribute('data-dir', '1');
    var name = el('td', { class: 'name' });
    nameCell(name, dir, e);
    var actions = el('td', { class: 'actions' });
    if (!e.is_dir) {
      actions.appendChild(el('a', { class: 'download', href: API + 'files/' + encodePath(p), download: e.name, text: 'Download' }));
    }
    var rename = el('button', { type: 'button', class: 'rename', text: 'Rename' });
    rename.addEventListener('click', function () { startRename(tr, name, dir, e); });
    var del = el('button', { type: 'button', class: 'delete', text: 'Delete' });
    del.addEventListener('click', function () { onDelete(del, p, e.is_dir); });
    actions.appendChild(rename);
    actions.appendChild(del);
    tr.appendChild(name);
    tr.appendChild(el('td', { class: 'size', text: e.is_dir ? '-' : fmtSize(e.size) }));
    tr.appendChild(el('td', { class: 'mtime', text: fmtTime(e.mtime) }));
    tr.appendChild(actions);
    return tr;
  }

  var renaming = null; // {td, dir, entry} of the row being renamed

  function cancelRename() {
    if (!renaming) return;
    nameCell(renaming.td, renaming.dir, renaming.entry);
    renaming = null;
  }

  function startRename(tr, td, dir, e) {
    cancelRename();
    renaming = { td: td, dir: dir, entry: e };
    var input = el('input', { class: 'rename-input', value: e.name, 'aria-label': 'New name' });
    var ok = el('button', { type: 'button', class: 'rename-ok', text: 'OK' });
    input.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter') { ev.preventDefault(); doRename(input, dir, e); }
      if (ev.key === 'Escape') { ev.preventDefault(); cancelRename(); }
    });
    ok.addEventListener('click', function () { doRename(input, dir, e); });
    td.replaceChildren(input, ok);
    input.focus();
    var dot = e.is_dir ? -1 : e.name.lastIndexOf('.');
    input.setSelectionRange(0, dot > 0 ? dot : e.name.length);
  }

  async function doRename(input, dir, e) {
    var to = input.value.trim();
    if (to === '' || to === e.name) { cancelRename(); return; }
    if (to.indexOf('/') >= 0) { setMessage('a name cannot contain "/"'); return; }
    try {
      await request('POST', API + 'rename/' + encodePath(joinPath(dir, e.name)) + '?to=' + encodeURIComponent(joinPath(dir, to)));
      renaming = null;
      setMessage('');
      refresh();
    } catch (err) {
      if (err.status !== 401) setMessage(err.message);
    }
  }

  function disarmDeletes(except) {
    document.querySelectorAll('button.delete-confirm').forEach(function (b) {
      if (b === except) return;
      b.className = 'delete';
      b.textContent = 'Delete';
    });
  }

  // onDelete: the first click turns the button into "really delete?", the second deletes.
  async function onDelete(btn, p, isDir) {
    if (btn.classList.contains('delete')) {
      disarmDeletes(null);
      btn.className = 'delete-confirm';
      btn.textContent = 'really delete?';
      return;
    }
    btn.disabled = true;
    try {
      await request('DELETE', API + 'files/' + encodePath(p) + (isDir ? '?recursive=1' : ''));
      setMessage('');
      refresh();
    } catch (err) {
      btn.disabled = false;
      if (err.status !== 401) setMessage(err.message);
    }
  }

  async function onMkdir(ev) {
    ev.preventDefault();
    var input = $('mkdir-name');
    var name = input.value.trim();
    if (name === '') { setMessage('type the new folder\'s name'); input.focus(); return; }
    if (name.indexOf('/') >= 0) { setMessage('a name cannot contain "/"'); return; }
    try {
      await request('POST', API + 'mkdir/' + encodePath(joinPath(cwd, name)));
      input.value = '';
      setMessage('');
      refresh();
    } catch (err) {
      if (err.status !== 401) setMessage(err.message);
    }
  }

  function setup() {
    $('login-form').addEventListener('submit', onLogin);
    $('logout').addEventListener('click', onLogout);
    $('mkdir-form').addEventListener('submit', onMkdir);
    document.addEventListener('click', function (ev) {
      var t = ev.target;
      if (!(t instanceof Element) || !t.closest('button.delete-confirm, button.delete')) disarmDeletes(null);
    });
    document.addEventListener('keydown', function (ev) { if (ev.key === 'Escape') disarmDeletes(null); });
    window.addEventListener('popstate', onHistory);
    window.addEventListener('hashchange', onHistory);
    uploads = globalThis.FtpxUploads.start({
      api: API, session: session, cwd: function () { return cwd; },
      request: request, HttpError: HttpError, $: $, el: el,
      encodePath: encodePath, joinPath: joinPath, fmtSize: fmtSize,
      setMessage: setMessage, refresh: refresh, sessionEnded: sessionEnded
    });
    boot();
  }

  setup();
})();
