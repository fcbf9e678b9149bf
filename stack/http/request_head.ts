/**
 * Parsing and validating a request head (RFC 9112 §2–§6): the request line, the header fields,
 * and the framing decisions that follow from them. Anything ambiguous is rejected, because a
 * message that two parsers could frame differently is how requests are smuggled.
 *
 * @module
 */

import { HttpError } from "./error.ts";
import type { HttpLimits } from "./limits.ts";

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;

/** tchar (RFC 9110 §5.6.2): the bytes allowed in methods and field names. */
export const TCHAR: Uint8Array = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** Field value bytes (RFC 9110 §5.5): VCHAR, obs-text, SP and HTAB; never CR, LF or NUL. */
const FIELD = new Uint8Array(256);
FIELD[HTAB] = 1;
for (let c = 0x20; c <= 0x7e; c++) FIELD[c] = 1;
for (let c = 0x80; c <= 0xff; c++) FIELD[c] = 1;

/** Bytes allowed in a Host value: reg-name, IP literals and a port (RFC 3986 §3.2). */
const HOST = new Uint8Array(256);
for (const c of "-._~%!$&'()*+,;=:[]") HOST[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) HOST[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) HOST[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) HOST[c] = 1;

/** How the request body is delimited (RFC 9112 §6.3). */
export type BodyFraming = "none" | "length" | "chunked";

/** A validated request head. */
export class RequestHead {
  /** The method, case preserved (RFC 9110 §9.1: methods are case-sensitive). */
  method = "";
  /** The request target as received. */
  target = "";
  /** The minor version: 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minor = 1;
  /** All header fields in order, names lower-cased. */
  fields: [string, string][] = [];
  /** The single Host value, or `undefined` when absent (HTTP/1.0 only). */
  host: string | undefined;
  /** How the body is delimited. */
  framing: BodyFraming = "none";
  /** The declared Content-Length (0 unless `framing` is "length"). */
  contentLength = 0;
  /** The client asked to close the connection after this exchange. */
  close = false;
  /** An HTTP/1.0 client asked to keep the connection open. */
  keepAlive = false;
  /** The client waits for "100 Continue" before sending the body (RFC 9110 §10.1.1). */
  expectContinue = false;
}

const decoder = new TextDecoder();

/** Marks of one field line: name start/end and trimmed value start/end (absolute offsets). */
let marks = new Int32Array(4 * 128);

/**
 * Parses the head in `bytes[start, end)` (ending with its empty line, as `ConnReader.readHead`
 * returns it). Returns the head or the `HttpError` to answer with.
 */
export function parseRequestHead(
  bytes: Uint8Array,
  start: number,
  end: number,
  limits: HttpLimits,
): RequestHead | HttpError {
  // RFC 9112 §2.2: skip empty lines before the request line.
  let i = start;
  while (i < end && (bytes[i] === CR || bytes[i] === LF)) {
    if (bytes[i] !== CR || bytes[i + 1] !== LF) return bareLf();
    i += 2;
  }
  const lineStart = i;
  let lineEnd = bytes.indexOf(LF, i);
  if (lineEnd === -1 || lineEnd >= end) {
    return new HttpError(400, "Cannot parse request head: unterminated");
  }
  if (bytes[lineEnd - 1] !== CR) return bareLf();
  lineEnd--;
  let high = 0;
  // method SP request-target SP HTTP-version (RFC 9112 §3)
  while (i < lineEnd && TCHAR[bytes[i]]) i++;
  const methodEnd = i;
  if (methodEnd === lineStart || bytes[i] !== SP) {
    return new HttpError(400, "Cannot parse request line: invalid method");
  }
  const targetStart = ++i;
  while (i < lineEnd && bytes[i] > SP && bytes[i] < 0x7f) i++;
  const targetEnd = i;
  if (targetEnd === targetStart || bytes[i] !== SP) {
    return new HttpError(400, "Cannot parse request line: invalid request target");
  }
  i++;
  const v = i;
  if (
    lineEnd - v !== 8 || bytes[v] !== 0x48 || bytes[v + 1] !== 0x54 || bytes[v + 2] !== 0x54 ||
    bytes[v + 3] !== 0x50 || bytes[v + 4] !== 0x2f || !isDigit(bytes[v + 5]) ||
    bytes[v + 6] !== 0x2e || !isDigit(bytes[v + 7])
  ) {
    return new HttpError(400, "Cannot parse request line: invalid HTTP version");
  }
  const head = new RequestHead();
  if (bytes[v + 5] !== 0x31) {
    return new HttpError(505, `HTTP version ${bytes[v + 5] - 0x30} is not supported`);
  }
  // RFC 9110 §2.5: a higher minor version is answered as the highest one we implement.
  head.minor = bytes[v + 7] === 0x30 ? 0 : 1;

  // Field lines (RFC 9112 §5).
  let count = 0;
  i = lineEnd + 2;
  while (true) {
    const ls = i;
    let le = bytes.indexOf(LF, ls);
    if (le === -1 || le >= end) {
      return new HttpError(400, "Cannot parse request head: unterminated");
    }
    if (bytes[le - 1] !== CR || le === ls) return bareLf();
    le--;
    if (le === ls) break;
    const first = bytes[ls];
    if (first === SP || first === HTAB) {
      // RFC 9112 §5.2: obs-fold is rejected in requests.
      return new HttpError(400, "Cannot parse header: obsolete line folding");
    }
    let j = ls;
    while (j < le && TCHAR[bytes[j]]) j++;
    if (j === ls || bytes[j] !== COLON) {
      // RFC 9112 §5.1: no whitespace is allowed between the field name and the colon.
      return new HttpError(400, "Cannot parse header: invalid field name");
    }
    const nameEnd = j++;
    while (j < le && (bytes[j] === SP || bytes[j] === HTAB)) j++;
    const valueStart = j;
    let valueEnd = valueStart;
    for (; j < le; j++) {
      const b = bytes[j];
      if (!FIELD[b]) {
        return new HttpError(400, "Cannot parse header: invalid byte in field value");
      }
      high |= b;
      if (b !== SP && b !== HTAB) valueEnd = j + 1;
    }
    if (count >= limits.maxHeaderCount) {
      return new HttpError(431, `Request has more than ${limits.maxHeaderCount} header fields`);
    }
    if (marks.length < 4 * (count + 1)) {
      const grown = new Int32Array(marks.length * 2);
      grown.set(marks);
      marks = grown;
    }
    marks[4 * count] = ls;
    marks[4 * count + 1] = nameEnd;
    marks[4 * count + 2] = valueStart;
    marks[4 * count + 3] = valueEnd;
    count++;
    i = le + 2;
  }

  // One decode of the whole head; names, values and the target are slices of it.
  const text = high < 0x80
    ? decoder.decode(bytes.subarray(lineStart, i))
    : latin1(bytes, lineStart, i);
  const base = lineStart;
  head.method = text.slice(0, methodEnd - base);
  head.target = text.slice(targetStart - base, targetEnd - base);
  const fields = head.fields;
  let contentLength: string | undefined;
  let lengthCount = 0;
  let transferEncoding: string | undefined;
  let hostCount = 0;
  let expect: string | undefined;
  for (let k = 0; k < count; k++) {
    const m = 4 * k;
    const name = lowerAscii(text.slice(marks[m] - base, marks[m + 1] - base));
    const value = text.slice(marks[m + 2] - base, marks[m + 3] - base);
    fields.push([name, value]);
    switch (name) {
      case "host":
        hostCount++;
        head.host = value;
        break;
      case "content-length":
        lengthCount++;
        contentLength = value;
        break;
      case "transfer-encoding":
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding},${value}`;
        break;
      case "connection":
        for (const token of value.split(",")) {
          const t = token.trim().toLowerCase();
          if (t === "close") head.close = true;
          else if (t === "keep-alive") head.keepAlive = true;
        }
        break;
      case "expect":
        expect = expect === undefined ? value : `${expect},${value}`;
        break;
    }
  }

  // RFC 9112 §3.2: exactly one valid Host in HTTP/1.1 requests, at most one in HTTP/1.0.
  if (hostCount > 1) return new HttpError(400, "Request has more than one Host header");
  if (hostCount === 0 && head.minor === 1) {
    return new HttpError(400, "HTTP/1.1 request has no Host header");
  }
  if (head.host !== undefined) {
    for (let k = 0; k < head.host.length; k++) {
      if (!HOST[head.host.charCodeAt(k)]) return new HttpError(400, "Host header is invalid");
    }
  }

  if (transferEncoding !== undefined) {
    // RFC 9112 §6.1: Content-Length beside Transfer-Encoding is a smuggling attempt; an HTTP/1.0
    // message with Transfer-Encoding has faulty framing.
    if (contentLength !== undefined) {
      return new HttpError(400, "Request has both Content-Length and Transfer-Encoding");
    }
    if (head.minor === 0) return new HttpError(400, "HTTP/1.0 request has Transfer-Encoding");
    const codings = transferEncoding.split(",").map((c) => c.trim().toLowerCase()).filter((c) =>
      c !== ""
    );
    // RFC 9112 §6.3 (4): chunked must be the final coding, applied once.
    if (codings.length === 0 || codings[codings.length - 1] !== "chunked") {
      return new HttpError(400, "Transfer-Encoding does not end in chunked");
    }
    if (codings.length > 1) {
      return codings.indexOf("chunked") !== codings.length - 1
        ? new HttpError(400, "Transfer-Encoding applies chunked more than once")
        : new HttpError(501, `Transfer coding ${codings[0]} is not implemented`);
    }
    head.framing = "chunked";
  } else if (contentLength !== undefined) {
    // RFC 9112 §6.3 (5): several or invalid Content-Length values are unrecoverable.
    if (lengthCount > 1) return new HttpError(400, "Request has more than one Content-Length");
    if (contentLength.length === 0 || contentLength.length > 15) {
      return new HttpError(400, "Content-Length is invalid");
    }
    let n = 0;
    for (let k = 0; k < contentLength.length; k++) {
      const c = contentLength.charCodeAt(k) - 0x30;
      if (c < 0 || c > 9) return new HttpError(400, "Content-Length is invalid");
      n = n * 10 + c;
    }
    if (n > limits.maxBodyBytes) {
      return new HttpError(413, `Request body is larger than ${limits.maxBodyBytes} bytes`);
    }
    head.contentLength = n;
    head.framing = n > 0 ? "length" : "none";
  }

  if (expect !== undefined && head.minor === 1) {
    // RFC 9110 §10.1.1: 100-continue is the only expectation; HTTP/1.0 expectations are ignored.
    if (expect.trim().toLowerCase() !== "100-continue") {
      return new HttpError(417, "Expectation is not supported");
    }
    head.expectContinue = true;
  }
  return head;
}

function bareLf(): HttpError {
  // RFC 9112 §2.2 permits, but does not require, accepting a bare LF, and requires rejecting (or
  // replacing) a bare CR; rejecting both keeps every parser in front of us agreeing on lines.
  return new HttpError(400, "Cannot parse request head: bare CR or LF");
}

function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

function lowerAscii(s: string): string {
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c >= 0x41 && c <= 0x5a) return s.toLowerCase();
  }
  return s;
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let k = start; k < end; k += 4096) {
    s += String.fromCharCode(...bytes.subarray(k, Math.min(end, k + 4096)));
  }
  return s;
}
