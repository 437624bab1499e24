'use strict'
// Uploads a file to an ftpx server's tus endpoint with tus-js-client, as a
// program of the tus ecosystem does (used by e2e/http_tusjs_test.go).
//
//   node tus_upload.js FILE ENDPOINT [ABORT_AT RESUME_ENDPOINT]
//
// The environment gives TUS_USER, TUS_PASSWORD (sent as HTTP Basic) and
// the metadata TUS_PATH, TUS_MD5, TUS_MTIME. Without ABORT_AT the file is
// uploaded in one run. With it, the first upload is aborted once
// ABORT_AT bytes are sent, and a new tus.Upload given the first one's URL
// (moved to RESUME_ENDPOINT's origin when given) resumes it.
//
// Prints one JSON line: {"url", "resumed_at", "patches"}, where
// resumed_at is the Upload-Offset of the last run's first PATCH and
// patches the offsets of all its PATCHes.

const fs = require('fs')
const tus = require('tus-js-client')

const [file, endpoint, abortArg, resumeEndpoint] = process.argv.slice(2)
const data = fs.readFileSync(file)
const env = process.env
const auth = 'Basic ' + Buffer.from(env.TUS_USER + ':' + env.TUS_PASSWORD).toString('base64')

function options (patches, extra) {
  return Object.assign({
    endpoint,
    chunkSize: 8 << 20,
    headers: { Authorization: auth },
    metadata: { path: env.TUS_PATH, md5: env.TUS_MD5, mtime: env.TUS_MTIME },
    retryDelays: [0, 250, 500, 1000, 2000, 4000],
    storeFingerprintForResuming: false,
    onBeforeRequest (req) {
      if (req.getMethod() === 'PATCH') patches.push(Number(req.getHeader('Upload-Offset')))
    }
  }, extra)
}

// upload runs one tus.Upload to its end; it resolves with its URL.
function upload (patches, extra) {
  return new Promise((resolve, reject) => {
    const u = new tus.Upload(data, options(patches, Object.assign({
      onError: reject,
      onSuccess: () => resolve(u.url)
    }, extra)))
    u.start()
  })
}

// aborted starts an upload and aborts it once abortAt bytes are sent; it
// resolves with its URL.
function aborted (abortAt) {
  return new Promise((resolve, reject) => {
    let done = false
    const u = new tus.Upload(data, options([], {
      onError: reject,
      onSuccess: () => reject(new Error('the upload finished before it was aborted')),
      onProgress (sent) {
        if (done || sent < abortAt) return
        done = true
        u.abort().then(() => resolve(u.url), reject)
      }
    }))
    u.start()
  })
}

async function main () {
  const patches = []
  if (!abortArg) {
    const url = await upload(patches, {})
    return { url, resumed_at: patches[0], patches }
  }
  let url = await aborted(Number(abortArg))
  if (resumeEndpoint) {
    const moved = new URL(url)
    const other = new URL(resumeEndpoint)
    moved.protocol = other.protocol
    moved.host = other.host
    url = moved.toString()
  }
  await upload(patches, { uploadUrl: url })
  return { url, resumed_at: patches[0], patches }
}

main().then(
  (res) => console.log(JSON.stringify(res)),
  (err) => { console.error('tus_upload: ' + err); process.exit(1) }
)
