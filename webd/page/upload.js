// upload.js: the ftpx web client's uploads, by file picker or drag and drop, one at a
// time with a progress bar each. Uploads are tus 1.0 (see the API in package webd): the
// page hashes each file (md5.js) as it reads it, creates the upload with the MD5 in its
// metadata, then sends the rest in one PATCH, retried when the connection is cut. The
// upload's URL is kept in localStorage, so choosing the same file again after a network
// cut or a reload resumes where the server stopped.
// Loaded before app.js, it only sets globalThis.FtpxUploads; app.js calls its start().
(function (root) {
  'use strict';

  var TUS = '1.0.0';
  var RETRIES = 3; // automatic retries of a cut PATCH, after 1, 2 and 4 s
  var BUSY_WAIT = 1000; // a HEAD answered 423 is asked again after this...
  var BUSY_TRIES = 30; // ...this many times at most
  var SAVED_PREFIX = 'ftpx.upload ';
  var SAVED_DAYS = 7; // resume entries older than this are dropped
  var KEEPALIVE = 20000; // while files are hashed or sent, the session is touched this often

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

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

  // start drops resume entries gone stale, wires #file-input and #drop-zone to the upload
  // queue, and returns { stop(text) }, which ends the running upload and empties the
  // queue (logout, session ended). page is what it uses of app.js: api (the API's URL
  // prefix), session (the object whose user and csrf app.js keeps current), cwd() (the
  // folder shown), request, HttpError, $, el, encodePath, joinPath, fmtSize, setMessage,
  // refresh and sessionEnded.
  function start(page) {
    var API = page.api;
    var session = page.session;
    var request = page.request;
    var HttpError = page.HttpError;
    var $ = page.$;
    var el = page.el;
    var encodePath = page.encodePath;
    var joinPath = page.joinPath;
    var fmtSize = page.fmtSize;
    var setMessage = page.setMessage;
    var refresh = page.refresh;
    var sessionEnded = page.sessionEnded;

    var queue = []; // uploads waiting, one runs at a time
    var current = null; // the upload running
    var pumping = false;

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
      var cwd = page.cwd(); // the folder shown: the files go there
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

    // hash computes the file's MD5 as it reads it, through the file's stream: the browser
    // reads ahead while the last piece is hashed (Blob slices read at about 60% of its speed).
    async function hash(job) {
      var f = job.file;
      var h = new globalThis.FtpxMD5();
      setState(job, 'hashing', 'hashing 0%');
      var reader = f.stream().getReader();
      var pos = 0, shown = 0;
      try {
        for (;;) {
          var r = await reader.read();
          if (job.stopped) { reader.cancel(); return; }
          if (r.done) break;
          h.update(r.value);
          pos += r.value.byteLength;
          var pct = Math.floor(pos * 100 / f.size);
          if (pct !== shown) {
            shown = pct;
            job.bar.value = pos;
            setState(job, 'hashing', 'hashing ' + pct + '%');
          }
        }
      } catch (e) {
        throw new HttpError(0, 'cannot read the file (was it changed or moved?)');
      }
      if (pos !== f.size) throw new HttpError(0, 'the file is ' + fmtSize(pos) + ', not the ' + fmtSize(f.size) + ' it said');
      job.bar.value = pos;
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

    dropOldSaved();
    $('file-input').addEventListener('change', onFiles);
    setupDrop();
    return { stop: stopUploads };
  }

  root.FtpxUploads = { start: start };
})(globalThis);
