// json-format: a JSON document in, the same document pretty-printed (or
// minified) out.
//
// Params: `indent` (0 to 8 spaces, default 2; 0 minifies).
// Output: `application/json`. Fails with `invalid_input` when the input is
// not UTF-8 JSON and `invalid_params` for a bad `indent`.
//
// Built by `cargo xtask build-plugin json-format` with componentize-js; the
// host functions come from `agensium:processor/host@0.1.0`
// (wit/processor.wit). A failure is returned as { tag: 'err', val: failure }.

import { read, write, log } from 'agensium:processor/host@0.1.0';

const READ = 256 * 1024;

function fail(code, message) {
  return { tag: 'err', val: { code, message } };
}

function readAll() {
  const chunks = [];
  let total = 0;
  for (;;) {
    const chunk = read(READ);
    if (chunk.length === 0) break;
    chunks.push(chunk);
    total += chunk.length;
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

export function process(params) {
  const p = Object.fromEntries(params);
  for (const key of Object.keys(p)) {
    if (key !== 'indent') log('warn', `unknown param ${JSON.stringify(key)} ignored`);
  }
  const indent = p.indent === undefined ? 2 : Number(p.indent);
  if (!Number.isInteger(indent) || indent < 0 || indent > 8) {
    return fail('invalid_params', `param "indent" = ${JSON.stringify(p.indent)}: 0 to 8`);
  }
  const bytes = readAll();
  let value;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    return fail('invalid_input', String(e));
  }
  const out = new TextEncoder().encode(JSON.stringify(value, null, indent) + '\n');
  write(out);
  log('info', `${bytes.length} bytes of JSON in, ${out.length} out`);
  return { contentType: 'application/json', stats: [['bytes_out', String(out.length)]] };
}
