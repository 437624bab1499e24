// md5.js: MD5 (RFC 1321) for the ftpx web client, fed in pieces as a file is read.
//
//   const h = new FtpxMD5();
//   h.update(uint8array);   // any number of times, pieces of any length
//   h.hex();                // "d41d8cd98f00b204e9800998ecf8427e"
//
// update() takes a Uint8Array (or any ArrayBuffer view, or an ArrayBuffer). digest() and
// hex() do not end the hash: more update() calls may follow. Words are read through an
// Int32Array view of the input where its offset allows (on little-endian machines, all
// of them in practice), else copied into a scratch buffer; no per-byte string work.
// Loaded as a plain script it sets globalThis.FtpxMD5; under CommonJS also module.exports.
(function (root) {
  'use strict';

  var littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  var SCRATCH_WORDS = 16384; // 64 KiB: copies of unaligned input go through it

  function FtpxMD5() {
    this.state = new Int32Array(4);
    this.block = new Uint8Array(64); // bytes waiting for a whole block
    this.blockWords = new Int32Array(this.block.buffer);
    this.scratch = null;
    this.reset();
  }

  FtpxMD5.prototype.reset = function () {
    this.state[0] = 0x67452301;
    this.state[1] = 0xefcdab89 | 0;
    this.state[2] = 0x98badcfe | 0;
    this.state[3] = 0x10325476;
    this.pending = 0; // bytes in this.block
    this.length = 0; // bytes hashed so far (a Number: exact below 2^53)
    return this;
  };

  function asBytes(data) {
    if (data instanceof Uint8Array) return data;
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    throw new TypeError('FtpxMD5.update: want a Uint8Array or an ArrayBuffer');
  }

  FtpxMD5.prototype.update = function (data) {
    var bytes = asBytes(data);
    var n = bytes.length;
    var pos = 0;
    this.length += n;
    if (this.pending > 0) {
      var take = Math.min(64 - this.pending, n);
      this.block.set(bytes.subarray(0, take), this.pending);
      this.pending += take;
      pos = take;
      if (this.pending < 64) return this;
      this.words(this.blockWords, 0, 16);
      this.pending = 0;
    }
    var whole = (n - pos) & ~63;
    if (whole > 0) {
      var at = bytes.byteOffset + pos;
      if (littleEndian && (at & 3) === 0) {
        this.words(new Int32Array(bytes.buffer, at, whole >> 2), 0, whole >> 2);
      } else {
        this.copied(bytes, pos, whole);
      }
      pos += whole;
    }
    if (pos < n) {
      this.block.set(bytes.subarray(pos), 0);
      this.pending = n - pos;
    }
    return this;
  };

  // copied hashes bytes[pos, pos+count) (count a multiple of 64) through the scratch
  // buffer, as little-endian words whatever the machine's order.
  FtpxMD5.prototype.copied = function (bytes, pos, count) {
    if (this.scratch === null) this.scratch = new Int32Array(SCRATCH_WORDS);
    var w = this.scratch;
    while (count > 0) {
      var nw = Math.min(count >> 2, SCRATCH_WORDS);
      if (littleEndian) {
        new Uint8Array(w.buffer, 0, nw << 2).set(bytes.subarray(pos, pos + (nw << 2)));
      } else {
        for (var i = 0, j = pos; i < nw; i++, j += 4) {
          w[i] = bytes[j] | (bytes[j + 1] << 8) | (bytes[j + 2] << 16) | (bytes[j + 3] << 24);
        }
      }
      this.words(w, 0, nw);
      pos += nw << 2;
      count -= nw << 2;
    }
  };

  // digest returns the 16 bytes of the MD5 of everything given so far.
  FtpxMD5.prototype.digest = function () {
    var saved = { state: this.state.slice(), pending: this.pending, length: this.length, block: this.block.slice() };
    var tail = new Uint8Array(this.pending < 56 ? 64 : 128);
    tail.set(this.block.subarray(0, this.pending));
    tail[this.pending] = 0x80;
    var end = tail.length;
    var lo = (this.length % 0x20000000) * 8; // low 32 bits of the length in bits
    var hi = Math.floor(this.length / 0x20000000);
    tail[end - 8] = lo & 0xff; tail[end - 7] = (lo >>> 8) & 0xff;
    tail[end - 6] = (lo >>> 16) & 0xff; tail[end - 5] = (lo >>> 24) & 0xff;
    tail[end - 4] = hi & 0xff; tail[end - 3] = (hi >>> 8) & 0xff;
    tail[end - 2] = (hi >>> 16) & 0xff; tail[end - 1] = (hi >>> 24) & 0xff;
    this.pending = 0;
    this.update(tail);
    var out = new Uint8Array(16);
    for (var i = 0; i < 4; i++) {
      var s = this.state[i];
      out[i * 4] = s & 0xff; out[i * 4 + 1] = (s >>> 8) & 0xff;
      out[i * 4 + 2] = (s >>> 16) & 0xff; out[i * 4 + 3] = (s >>> 24) & 0xff;
    }
    this.state.set(saved.state);
    this.block.set(saved.block);
    this.pending = saved.pending;
    this.length = saved.length;
    return out;
  };

  // hex returns the MD5 as 32 lower-case hex digits.
  FtpxMD5.prototype.hex = function () {
    var d = this.digest();
    var s = '';
    for (var i = 0; i < 16; i++) s += (d[i] < 16 ? '0' : '') + d[i].toString(16);
    return s;
  };

  // words runs the compression function over w[from, from+count), count a multiple of
  // 16, each element one little-endian word of the message.
  FtpxMD5.prototype.words = function (w, from, count) {
    var st = this.state;
    var a = st[0], b = st[1], c = st[2], d = st[3];
    for (var i = from, end = from + count; i < end; i += 16) {
      var x0 = w[i], x1 = w[i + 1], x2 = w[i + 2], x3 = w[i + 3];
      var x4 = w[i + 4], x5 = w[i + 5], x6 = w[i + 6], x7 = w[i + 7];
      var x8 = w[i + 8], x9 = w[i + 9], x10 = w[i + 10], x11 = w[i + 11];
      var x12 = w[i + 12], x13 = w[i + 13], x14 = w[i + 14], x15 = w[i + 15];
      var aa = a, bb = b, cc = c, dd = d;

      a = (a + (d ^ (b & (c ^ d))) + x0 + -680876936) | 0; a = (((a << 7) | (a >>> 25)) + b) | 0;
      d = (d + (c ^ (a & (b ^ c))) + x1 + -389564586) | 0; d = (((d << 12) | (d >>> 20)) + a) | 0;
      c = (c + (b ^ (d & (a ^ b))) + x2 + 606105819) | 0; c = (((c << 17) | (c >>> 15)) + d) | 0;
      b = (b + (a ^ (c & (d ^ a))) + x3 + -1044525330) | 0; b = (((b << 22) | (b >>> 10)) + c) | 0;
      a = (a + (d ^ (b & (c ^ d))) + x4 + -176418897) | 0; a = (((a << 7) | (a >>> 25)) + b) | 0;
      d = (d + (c ^ (a & (b ^ c))) + x5 + 1200080426) | 0; d = (((d << 12) | (d >>> 20)) + a) | 0;
      c = (c + (b ^ (d & (a ^ b))) + x6 + -1473231341) | 0; c = (((c << 17) | (c >>> 15)) + d) | 0;
      b = (b + (a ^ (c & (d ^ a))) + x7 + -45705983) | 0; b = (((b << 22) | (b >>> 10)) + c) | 0;
      a = (a + (d ^ (b & (c ^ d))) + x8 + 1770035416) | 0; a = (((a << 7) | (a >>> 25)) + b) | 0;
      d = (d + (c ^ (a & (b ^ c))) + x9 + -1958414417) | 0; d = (((d << 12) | (d >>> 20)) + a) | 0;
      c = (c + (b ^ (d & (a ^ b))) + x10 + -42063) | 0; c = (((c << 17) | (c >>> 15)) + d) | 0;
      b = (b + (a ^ (c & (d ^ a))) + x11 + -1990404162) | 0; b = (((b << 22) | (b >>> 10)) + c) | 0;
      a = (a + (d ^ (b & (c ^ d))) + x12 + 1804603682) | 0; a = (((a << 7) | (a >>> 25)) + b) | 0;
      d = (d + (c ^ (a & (b ^ c))) + x13 + -40341101) | 0; d = (((d << 12) | (d >>> 20)) + a) | 0;
      c = (c + (b ^ (d & (a ^ b))) + x14 + -1502002290) | 0; c = (((c << 17) | (c >>> 15)) + d) | 0;
      b = (b + (a ^ (c & (d ^ a))) + x15 + 1236535329) | 0; b = (((b << 22) | (b >>> 10)) + c) | 0;

      a = (a + (c ^ (d & (b ^ c))) + x1 + -165796510) | 0; a = (((a << 5) | (a >>> 27)) + b) | 0;
      d = (d + (b ^ (c & (a ^ b))) + x6 + -1069501632) | 0; d = (((d << 9) | (d >>> 23)) + a) | 0;
      c = (c + (a ^ (b & (d ^ a))) + x11 + 643717713) | 0; c = (((c << 14) | (c >>> 18)) + d) | 0;
      b = (b + (d ^ (a & (c ^ d))) + x0 + -373897302) | 0; b = (((b << 20) | (b >>> 12)) + c) | 0;
      a = (a + (c ^ (d & (b ^ c))) + x5 + -701558691) | 0; a = (((a << 5) | (a >>> 27)) + b) | 0;
      d = (d + (b ^ (c & (a ^ b))) + x10 + 38016083) | 0; d = (((d << 9) | (d >>> 23)) + a) | 0;
      c = (c + (a ^ (b & (d ^ a))) + x15 + -660478335) | 0; c = (((c << 14) | (c >>> 18)) + d) | 0;
      b = (b + (d ^ (a & (c ^ d))) + x4 + -405537848) | 0; b = (((b << 20) | (b >>> 12)) + c) | 0;
      a = (a + (c ^ (d & (b ^ c))) + x9 + 568446438) | 0; a = (((a << 5) | (a >>> 27)) + b) | 0;
      d = (d + (b ^ (c & (a ^ b))) + x14 + -1019803690) | 0; d = (((d << 9) | (d >>> 23)) + a) | 0;
      c = (c + (a ^ (b & (d ^ a))) + x3 + -187363961) | 0; c = (((c << 14) | (c >>> 18)) + d) | 0;
      b = (b + (d ^ (a & (c ^ d))) + x8 + 1163531501) | 0; b = (((b << 20) | (b >>> 12)) + c) | 0;
      a = (a + (c ^ (d & (b ^ c))) + x13 + -1444681467) | 0; a = (((a << 5) | (a >>> 27)) + b) | 0;
      d = (d + (b ^ (c & (a ^ b))) + x2 + -51403784) | 0; d = (((d << 9) | (d >>> 23)) + a) | 0;
      c = (c + (a ^ (b & (d ^ a))) + x7 + 1735328473) | 0; c = (((c << 14) | (c >>> 18)) + d) | 0;
      b = (b + (d ^ (a & (c ^ d))) + x12 + -1926607734) | 0; b = (((b << 20) | (b >>> 12)) + c) | 0;

      a = (a + (b ^ c ^ d) + x5 + -378558) | 0; a = (((a << 4) | (a >>> 28)) + b) | 0;
      d = (d + (a ^ b ^ c) + x8 + -2022574463) | 0; d = (((d << 11) | (d >>> 21)) + a) | 0;
      c = (c + (d ^ a ^ b) + x11 + 1839030562) | 0; c = (((c << 16) | (c >>> 16)) + d) | 0;
      b = (b + (c ^ d ^ a) + x14 + -35309556) | 0; b = (((b << 23) | (b >>> 9)) + c) | 0;
      a = (a + (b ^ c ^ d) + x1 + -1530992060) | 0; a = (((a << 4) | (a >>> 28)) + b) | 0;
      d = (d + (a ^ b ^ c) + x4 + 1272893353) | 0; d = (((d << 11) | (d >>> 21)) + a) | 0;
      c = (c + (d ^ a ^ b) + x7 + -155497632) | 0; c = (((c << 16) | (c >>> 16)) + d) | 0;
      b = (b + (c ^ d ^ a) + x10 + -1094730640) | 0; b = (((b << 23) | (b >>> 9)) + c) | 0;
      a = (a + (b ^ c ^ d) + x13 + 681279174) | 0; a = (((a << 4) | (a >>> 28)) + b) | 0;
      d = (d + (a ^ b ^ c) + x0 + -358537222) | 0; d = (((d << 11) | (d >>> 21)) + a) | 0;
      c = (c + (d ^ a ^ b) + x3 + -722521979) | 0; c = (((c << 16) | (c >>> 16)) + d) | 0;
      b = (b + (c ^ d ^ a) + x6 + 76029189) | 0; b = (((b << 23) | (b >>> 9)) + c) | 0;
      a = (a + (b ^ c ^ d) + x9 + -640364487) | 0; a = (((a << 4) | (a >>> 28)) + b) | 0;
      d = (d + (a ^ b ^ c) + x12 + -421815835) | 0; d = (((d << 11) | (d >>> 21)) + a) | 0;
      c = (c + (d ^ a ^ b) + x15 + 530742520) | 0; c = (((c << 16) | (c >>> 16)) + d) | 0;
      b = (b + (c ^ d ^ a) + x2 + -995338651) | 0; b = (((b << 23) | (b >>> 9)) + c) | 0;

      a = (a + (c ^ (b | ~d)) + x0 + -198630844) | 0; a = (((a << 6) | (a >>> 26)) + b) | 0;
      d = (d + (b ^ (a | ~c)) + x7 + 1126891415) | 0; d = (((d << 10) | (d >>> 22)) + a) | 0;
      c = (c + (a ^ (d | ~b)) + x14 + -1416354905) | 0; c = (((c << 15) | (c >>> 17)) + d) | 0;
      b = (b + (d ^ (c | ~a)) + x5 + -57434055) | 0; b = (((b << 21) | (b >>> 11)) + c) | 0;
      a = (a + (c ^ (b | ~d)) + x12 + 1700485571) | 0; a = (((a << 6) | (a >>> 26)) + b) | 0;
      d = (d + (b ^ (a | ~c)) + x3 + -1894986606) | 0; d = (((d << 10) | (d >>> 22)) + a) | 0;
      c = (c + (a ^ (d | ~b)) + x10 + -1051523) | 0; c = (((c << 15) | (c >>> 17)) + d) | 0;
      b = (b + (d ^ (c | ~a)) + x1 + -2054922799) | 0; b = (((b << 21) | (b >>> 11)) + c) | 0;
      a = (a + (c ^ (b | ~d)) + x8 + 1873313359) | 0; a = (((a << 6) | (a >>> 26)) + b) | 0;
      d = (d + (b ^ (a | ~c)) + x15 + -30611744) | 0; d = (((d << 10) | (d >>> 22)) + a) | 0;
      c = (c + (a ^ (d | ~b)) + x6 + -1560198380) | 0; c = (((c << 15) | (c >>> 17)) + d) | 0;
      b = (b + (d ^ (c | ~a)) + x13 + 1309151649) | 0; b = (((b << 21) | (b >>> 11)) + c) | 0;
      a = (a + (c ^ (b | ~d)) + x4 + -145523070) | 0; a = (((a << 6) | (a >>> 26)) + b) | 0;
      d = (d + (b ^ (a | ~c)) + x11 + -1120210379) | 0; d = (((d << 10) | (d >>> 22)) + a) | 0;
      c = (c + (a ^ (d | ~b)) + x2 + 718787259) | 0; c = (((c << 15) | (c >>> 17)) + d) | 0;
      b = (b + (d ^ (c | ~a)) + x9 + -343485551) | 0; b = (((b << 21) | (b >>> 11)) + c) | 0;
      a = (a + aa) | 0; b = (b + bb) | 0; c = (c + cc) | 0; d = (d + dd) | 0;
    }
    st[0] = a; st[1] = b; st[2] = c; st[3] = d;
  };

  // FtpxMD5.hex(data) is the MD5 of one piece, for short inputs.
  FtpxMD5.hex = function (data) {
    return new FtpxMD5().update(data).hex();
  };

  root.FtpxMD5 = FtpxMD5;
  if (typeof module === 'object' && module && module.exports) module.exports = FtpxMD5;
})(typeof globalThis !== 'undefined' ? globalThis : this);
