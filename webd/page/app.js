// app.js: the ftpx web client. One page: a login form, then a folder listing with
// navigation, download, rename, delete, new folder, the quota, and uploads by file picker
// or drag and drop. Uploads are tus 1.0 (see the API in package webd): the page hashes
// each file (md5.js) as it reads it, creates the upload with the MD5 in its metadata,
// then sends the rest in one PATCH. The upload's URL is kept in localStorage, so choosing
// the same file again after a network cut or a reload resumes where the server stopped.
// No framework and nothing loaded from elsewhere; no inline code (the server's CSP).
(function () {
  'use strict';

  var API = '/api/v1/';
  var TUS = '1.0.0';
  var HASH_SLICE = 8 << 20; // bytes read and hashed at a time
  var RETRIES = 3; // automatic retries of a cut PATCH, after 1, 2 and 4 s
  var BUSY_WAIT = 1000; // a HEAD answered 423 is asked again after this...
  var BUSY_TRIES = 30; // ...this many times at most
  var SAVED_PREFIX = 'ftpx.upload ';
  var SAVED_DAYS = 7; // resume entries older than this are dropped
  var KEEPALIVE = 20000; // while files are hashed or sent, the session is touched this often

  var session = { user: '', csrf: '' };
  var cwd = '/';
  var listSeq = 0; // answers to older listings are ignored
  var queue = []; // uploads waiting, one runs at a time
  var current = null; // the upload running
  var pumping = false;

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

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

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

  function b64(s) {
    var bytes = new TextEncoder().encode(s);
    var bin = '';
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin);
  }

  function b64ToHex(s) {
    try {
      var bin = atob(s);
      var hex = '';
      for (var i = 0; i < bin.length; i++) hex += (bin.charCodeAt(i) < 16 ? '0' : '') + bin.charCodeAt(i).toString(16);
      return hex;
    } catch (e) {
      return '';
    }
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
    stopUploads('interrupted: log in and choose the file again to resume');
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
    stopUploads('interrupted: choose the file again to resume');
    $('uploads').replaceChildren();
    $('listing').tBodies[0].replaceChildren();
    $('path').replaceChildren();
    $('quota').textContent = '';
    showLogin('');
  }

  async function boot() {
    dropOldSaved();
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

  // ---- uploads: the saved state for resuming ----

  function savedKey(dest, file) {
    return SAVED_PREFIX + JSON.stringify([session.user, dest, file.size, file.lastModified]);
  }

  function loadSaved(key) {
    try {
      var v = JSON.parse(localStorage.getItem(key) || 'null');
      return v && v.url && v.md5 ? v : null;
    } catch (e) {
      return null;
    }
  }

  function save(key, url, md5) {
    try { localStorage.setItem(key, JSON.stringify({ url: url, md5: md5, at: Date.now() })); } catch (e) { /* storage off: no resume */ }
  }

  function forget(key) {
    try { localStorage.removeItem(key); } catch (e) { /* storage off */ }
  }

  function dropOldSaved() {
    try {
      var old = Date.now() - SAVED_DAYS * 86400e3;
      for (var i = localStorage.length - 1; i >= 0; i--) {
        var k = localStorage.key(i);
        if (k.indexOf(SAVED_PREFIX) !== 0) continue;
        var v = loadSaved(k);
        if (!v || !(v.at > old)) localStorage.removeItem(k);
      }
    } catch (e) { /* storage off */ }
  }

  // ---- uploads: the queue and each file's line ----

  function enqueue(files) {
    for (var i = 0; i < files.length; i++) {
      var f = files[i];
      var dest = joinPath(cwd, f.name);
      var key = savedKey(dest, f);
      if ((current && current.key === key) || queue.some(function (j) { return j.key === key; })) {
        setMessage(f.name + ' is already being uploaded');
        continue;
      }
      var job = { file: f, dest: dest, dir: cwd, key: key, url: '', md5: '', xhr: null, stopped: '' };
      job.bar = el('progress', { max: Math.max(f.size, 1), value: 0 });
      job.state = el('span', { class: 'state' });
      job.cancel = el('button', { type: 'button', class: 'cancel', text: 'Cancel' });
      job.cancel.addEventListener('click', cancelUpload.bind(null, job));
      job.dismiss = el('button', { type: 'button', class: 'dismiss', text: 'Dismiss' });
      job.dismiss.addEventListener('click', function () { this.closest('li').remove(); });
      job.li = el('li', { class: 'upload', 'data-name': f.name, 'data-offset': '0' }, [
        el('span', { class: 'file', text: f.name, title: dest }), job.bar,
        el('span', {}, [job.state, document.createTextNode(' '), job.cancel, job.dismiss])
      ]);
      setState(job, 'queued', 'waiting');
      $('uploads').appendChild(job.li);
      queue.push(job);
    }
    pump();
  }

  function setState(job, state, text) {
    job.li.setAttribute('data-state', state);
    job.state.textContent = text;
    var active = state === 'queued' || state === 'hashing' || state === 'uploading';
    job.cancel.hidden = !active;
    job.dismiss.hidden = active;
  }

  async function pump() {
    if (pumping) return;
    pumping = true;
    // A long hash or PATCH makes no other request: keep the session from timing out.
    var keepAlive = setInterval(function () {
      if (session.user) request('GET', API + 'session').catch(function () { /* a 401 shows the form */ });
    }, KEEPALIVE);
    while (queue.length > 0) {
      current = queue.shift();
      try {
        await upload(current);
      } catch (e) {
        if (current.stopped) continue;
        if (e.status === 0) interrupted(current);
        else fail(current, e.message);
      }
      current = null;
    }
    clearInterval(keepAlive);
    pumping = false;
  }

  function interrupted(job) {
    var text = 'interrupted: choose the file again to resume';
    setState(job, 'interrupted', text);
    setMessage(job.file.name + ': ' + text);
  }

  function fail(job, text) {
    setState(job, 'failed', 'failed: ' + text);
    setMessage(job.file.name + ': ' + text);
  }

  // stopUploads ends the running upload and empties the queue (logout, session ended).
  function stopUploads(text) {
    var all = queue.splice(0);
    if (current) all.unshift(current);
    all.forEach(function (job) {
      job.stopped = text;
      if (job.xhr) job.xhr.abort();
      setState(job, 'interrupted', text);
    });
  }

  async function cancelUpload(job) {
    var i = queue.indexOf(job);
    if (i >= 0) queue.splice(i, 1);
    job.stopped = 'cancelled';
    if (job.xhr) job.xhr.abort();
    setState(job, 'failed', 'cancelled');
    await giveUp(job);
  }

  // giveUp forgets an upload here and on the server (tus termination).
  async function giveUp(job) {
    forget(job.key);
    if (!job.url) return;
    var url = job.url;
    job.url = '';
    try {
      await request('DELETE', url, { headers: { 'Tus-Resumable': TUS }, accept: [404] });
    } catch (e) { /* the server drops it later */ }
  }

  // ---- uploads: the tus exchange ----

  // upload sends one file: resumed from the server's offset when the page knows an upload
  // of it, else hashed and created afresh; then the rest in one PATCH, retried on a cut.
  async function upload(job) {
    var f = job.file;
    var saved = loadSaved(job.key);
    var offset = -1;
    if (saved) {
      setState(job, 'uploading', 'resuming');
      offset = await headOffset(saved.url);
      if (job.stopped) return;
      job.url = saved.url;
      job.md5 = saved.md5;
      if (offset < 0) {
        forget(job.key);
        job.url = '';
        if (await alreadyStored(job)) { done(job, 'done (it was already stored)'); return; }
      }
    }
    if (offset < 0) {
      await hash(job);
      if (job.stopped) return;
      offset = await create(job);
      if (job.stopped === 'cancelled') { await giveUp(job); return; }
      if (job.stopped) return;
      if (f.size === 0) { done(job, 'done'); return; }
    }
    job.li.setAttribute('data-offset', String(offset));
    await send(job, offset);
  }

  // hash computes the file's MD5 as it reads it, HASH_SLICE bytes at a time; the next
  // slice is read while the last one is hashed.
  async function hash(job) {
    var f = job.file;
    var h = new globalThis.FtpxMD5();
    function read(at) { // never rejects: an error is its value
      return f.slice(at, at + HASH_SLICE).arrayBuffer().then(null, function (e) { return e; });
    }
    setState(job, 'hashing', 'hashing 0%');
    var next = f.size > 0 ? read(0) : null;
    for (var pos = 0; pos < f.size;) {
      var buf = await next;
      if (job.stopped) return;
      if (!(buf instanceof ArrayBuffer)) throw new HttpError(0, 'cannot read the file (was it changed or moved?)');
      if (buf.byteLength === 0) throw new HttpError(0, 'the file is shorter than it said');
      pos += buf.byteLength;
      next = pos < f.size ? read(pos) : null;
      h.update(new Uint8Array(buf));
      job.bar.value = pos;
      setState(job, 'hashing', 'hashing ' + Math.floor(pos * 100 / f.size) + '%');
    }
    job.md5 = h.hex();
  }

  // create asks the server for an upload and returns the offset it starts from.
  async function create(job) {
    var f = job.file;
    var meta = 'path ' + b64(job.dest) + ',md5 ' + b64(job.md5) + ',mtime ' + b64(String(Math.floor(f.lastModified / 1000)));
    job.bar.value = 0;
    setState(job, 'uploading', 'starting');
    var res = await request('POST', API + 'uploads/', {
      headers: { 'Tus-Resumable': TUS, 'Upload-Length': String(f.size), 'Upload-Metadata': meta }
    });
    job.url = res.headers.get('Location') || '';
    if (f.size > 0) {
      if (!job.url) throw new HttpError(0, 'the server gave no upload address');
      save(job.key, job.url, job.md5);
    }
    return Number(res.headers.get('Upload-Offset')) || 0;
  }

  // headOffset returns the bytes the server holds of an upload, -1 when it is gone (404).
  // A busy upload (423) is asked again every second for up to 30 s.
  async function headOffset(url) {
    for (var i = 0; i < BUSY_TRIES; i++) {
      var res = await request('HEAD', url, { headers: { 'Tus-Resumable': TUS }, accept: [404, 423] });
      if (res.status === 404) return -1;
      if (res.status !== 423) {
        var off = Number(res.headers.get('Upload-Offset'));
        if (!(off >= 0)) throw new HttpError(res.status, 'the server did not say how much it holds');
        return off;
      }
      await sleep(BUSY_WAIT);
    }
    throw new HttpError(423, 'the upload stays busy on the server');
  }

  // alreadyStored tells whether the destination holds the file: a PATCH whose answer was
  // lost may have finished the upload.
  async function alreadyStored(job) {
    if (!job.md5) return false;
    try {
      var res = await request('HEAD', API + 'files/' + encodePath(job.dest), { accept: [404] });
      return res.status === 200 && Number(res.headers.get('Content-Length')) === job.file.size &&
        b64ToHex(res.headers.get('Content-MD5') || '') === job.md5;
    } catch (e) {
      return false;
    }
  }

  function patch(job, offset) {
    var f = job.file;
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      job.xhr = xhr;
      xhr.open('PATCH', job.url);
      xhr.setRequestHeader('Tus-Resumable', TUS);
      xhr.setRequestHeader('Upload-Offset', String(offset));
      xhr.setRequestHeader('Content-Type', 'application/offset+octet-stream');
      if (session.csrf) xhr.setRequestHeader('X-CSRF-Token', session.csrf);
      xhr.upload.onprogress = function (ev) {
        var at = Math.min(offset + ev.loaded, f.size);
        job.bar.value = at;
        job.state.textContent = 'uploading ' + fmtSize(at) + ' of ' + fmtSize(f.size);
      };
      xhr.onload = function () {
        var err = '';
        try { err = (JSON.parse(xhr.responseText) || {}).error || ''; } catch (e) { /* no JSON body */ }
        var off = xhr.getResponseHeader('Upload-Offset');
        resolve({ status: xhr.status, offset: off === null ? -1 : Number(off), error: err || xhr.statusText || 'HTTP ' + xhr.status });
      };
      xhr.onerror = xhr.ontimeout = function () { resolve({ status: 0, offset: -1, error: 'network error' }); };
      xhr.onabort = function () { resolve({ status: -1, offset: -1, error: 'stopped' }); };
      xhr.send(f.slice(offset));
    }).finally(function () { job.xhr = null; });
  }

  // send PATCHes the file from offset to its end. A cut (network error, 409, 423, 503 or
  // a PATCH that moved nothing) is retried RETRIES times, after 1, 2 and 4 s, from the
  // offset a HEAD reports; then the upload is left for the user to resume.
  async function send(job, offset) {
    var f = job.file;
    var tries = 0;
    for (;;) {
      if (job.stopped) return;
      job.bar.value = offset;
      setState(job, 'uploading', 'uploading ' + fmtSize(offset) + ' of ' + fmtSize(f.size));
      var r = await patch(job, offset);
      if (job.stopped || r.status === -1) return;
      if (r.status === 204 && r.offset >= f.size) { forget(job.key); done(job, 'done'); return; }
      if (r.status === 204 && r.offset > offset) { offset = r.offset; tries = 0; continue; }
      if (r.status === 460) { forget(job.key); fail(job, 'MD5 mismatch: nothing was stored'); return; }
      if (r.status === 401) { sessionEnded(); return; }
      var retry = r.status === 0 || r.status === 204 || r.status === 409 || r.status === 423 || r.status === 503;
      if (r.status === 404) { await gone(job); return; }
      if (!retry) {
        if (r.status < 500) forget(job.key);
        fail(job, r.error);
        return;
      }
      // A cut: wait, ask the server where it stands, and go on from there.
      for (;;) {
        if (tries === RETRIES) { interrupted(job); return; }
        var wait = 1000 << tries;
        tries++;
        job.state.textContent = 'connection lost: retrying in ' + wait / 1000 + ' s';
        await sleep(wait);
        if (job.stopped) return;
        var off;
        try {
          off = await headOffset(job.url);
        } catch (e) {
          if (e.status === 401) return;
          continue;
        }
        if (off < 0) { await gone(job); return; }
        if (off > offset) tries = 0;
        offset = off;
        job.li.setAttribute('data-offset', String(offset));
        break;
      }
    }
  }

  // gone ends an upload the server no longer knows: finished, when the answer to its
  // last PATCH was lost (the file is there with its MD5), else given up or expired.
  async function gone(job) {
    forget(job.key);
    if (await alreadyStored(job)) { done(job, 'done'); return; }
    fail(job, 'the server no longer has this upload: choose the file again');
  }

  function done(job, text) {
    job.bar.max = Math.max(job.file.size, 1);
    job.bar.value = job.bar.max;
    setState(job, 'done', text);
    setMessage('');
    refresh();
  }

  // ---- file picker and drop zone ----

  function onFiles(ev) {
    var input = ev.target;
    var files = Array.prototype.slice.call(input.files || []);
    input.value = ''; // choosing the same file again fires change again (resume)
    if (files.length) enqueue(files);
  }

  function setupDrop() {
    var zone = $('drop-zone');
    function hasFiles(ev) {
      return ev.dataTransfer && Array.prototype.indexOf.call(ev.dataTransfer.types || [], 'Files') >= 0;
    }
    zone.addEventListener('dragover', function (ev) {
      ev.preventDefault();
      if (ev.dataTransfer) ev.dataTransfer.dropEffect = 'copy';
      zone.classList.add('over');
    });
    zone.addEventListener('dragleave', function (ev) {
      if (!zone.contains(ev.relatedTarget)) zone.classList.remove('over');
    });
    zone.addEventListener('drop', function (ev) {
      ev.preventDefault();
      zone.classList.remove('over');
      var files = ev.dataTransfer ? Array.prototype.slice.call(ev.dataTransfer.files || []) : [];
      if (files.length) enqueue(files);
    });
    // A file dropped beside the zone must not replace the page with itself.
    window.addEventListener('dragover', function (ev) { if (hasFiles(ev)) ev.preventDefault(); });
    window.addEventListener('drop', function (ev) { if (!zone.contains(ev.target)) ev.preventDefault(); });
  }

  function setup() {
    $('login-form').addEventListener('submit', onLogin);
    $('logout').addEventListener('click', onLogout);
    $('mkdir-form').addEventListener('submit', onMkdir);
    $('file-input').addEventListener('change', onFiles);
    document.addEventListener('click', function (ev) {
      var t = ev.target;
      if (!(t instanceof Element) || !t.closest('button.delete-confirm, button.delete')) disarmDeletes(null);
    });
    document.addEventListener('keydown', function (ev) { if (ev.key === 'Escape') disarmDeletes(null); });
    window.addEventListener('popstate', onHistory);
    window.addEventListener('hashchange', onHistory);
    setupDrop();
    boot();
  }

  setup();
})();
