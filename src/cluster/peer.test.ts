// Proves the peer transport's pieces: a JSON line reader that is correct across arbitrary chunk
// boundaries and copes with a snapshot-sized line, and the address parser's defaults and refusals.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lineReader, parseAddress } from './peer.js';

describe('lineReader', () => {
  it('yields each JSON line whole, whatever the chunking', () => {
    const text = '{"a":1}\n\n{"b":"x\\ny"}\n{"c":[1,2,3]}\n';
    for (let size = 1; size <= text.length; size++) {
      const out: unknown[] = [];
      const feed = lineReader((m) => out.push(m));
      for (let i = 0; i < text.length; i += size) feed(text.slice(i, i + size));
      assert.deepEqual(out, [{ a: 1 }, { b: 'x\ny' }, { c: [1, 2, 3] }], `chunks of ${size}`);
    }
  });

  // A quadratic reader (re-scanning what it holds on every chunk) needs minutes for this.
  it('reads a 32 MiB line arriving in 16 KiB chunks', { timeout: 60_000 }, () => {
    const line = JSON.stringify({ rows: 'x'.repeat(32 * 1024 * 1024) }) + '\n';
    let got: unknown;
    const feed = lineReader((m) => (got = m));
    for (let i = 0; i < line.length; i += 16384) feed(line.slice(i, i + 16384));
    assert.equal((got as { rows: string }).rows.length, 32 * 1024 * 1024);
  });
});

describe('parseAddress', () => {
  it('uses the pool port unless the address names one, and refuses bad ones', () => {
    assert.deepEqual(parseAddress('127.0.0.2', 443), { host: '127.0.0.2', port: 443 });
    assert.deepEqual(parseAddress('127.0.0.2:8443', 443), { host: '127.0.0.2', port: 8443 });
    assert.deepEqual(parseAddress('[::1]:9', 443), { host: '::1', port: 9 });
    assert.throws(() => parseAddress('a:b:c', 443));
    assert.throws(() => parseAddress('127.0.0.2:70000', 443));
  });
});
