// md5_harness.js: hashes each file named on the command line with page/md5.js in several
// ways and prints one JSON line per file. Run by md5js_test.go.
//   node md5_harness.js PATH/TO/md5.js FILE...
'use strict';
const fs = require('fs');
const vm = require('vm');

const src = process.argv[2];
const FtpxMD5 = require(src); // CommonJS: module.exports

// Loaded as a browser loads it (a plain script, no module): globalThis.FtpxMD5.
const page = vm.createContext({});
vm.runInContext(fs.readFileSync(src, 'utf8'), page);
const PageMD5 = page.FtpxMD5;

const steps = [1, 3, 64, 7, 100, 63, 65, 4101, 65537, 13, 56, 128];

function chunked(h, bytes) {
  for (let pos = 0, i = 0; pos < bytes.length; i++) {
    const end = Math.min(bytes.length, pos + steps[i % steps.length]);
    h.update(bytes.subarray(pos, end));
    pos = end;
  }
  return h;
}

for (const name of process.argv.slice(3)) {
  const data = new Uint8Array(fs.readFileSync(name)); // a copy at offset 0: aligned
  const shifted = new Uint8Array(data.length + 1).subarray(1); // offset 1: unaligned
  shifted.set(data);
  const half = data.length >> 1;
  const h = new FtpxMD5().update(data.subarray(0, half));
  const prefix = h.hex();
  const again = h.hex();
  h.update(data.subarray(half));
  const out = {
    name,
    whole: new FtpxMD5().update(data).hex(),
    chunks: chunked(new FtpxMD5(), data).hex(),
    unaligned: chunked(new FtpxMD5(), shifted).hex(),
    unaligned_whole: FtpxMD5.hex(shifted),
    buffer: FtpxMD5.hex(data.slice().buffer),
    after_reset: chunked(new FtpxMD5().update(data).reset(), data).hex(),
    prefix,
    prefix_again: again,
    after_prefix: h.hex(),
    page: typeof PageMD5 === 'function' ? chunked(new PageMD5(), data).hex() : 'no globalThis.FtpxMD5',
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}
