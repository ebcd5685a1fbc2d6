// Proves the JSON-RPC codec accepts exactly the requests xapi accepts, emits xapi's v1/v2 envelopes and value encodings byte for byte, and that npm xen-api's json-rpc-protocol reads them.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { defineClass, field } from '../model/define.js';
import type { Ty } from '../model/types.js';
import { stringMap, t } from '../model/types.js';
import { MalformedRequest } from './errors.js';
import {
  encodeJsonFailure,
  encodeJsonSuccess,
  encodeJsonValue,
  parseJsonRpcRequest,
  writeJson,
} from './json.js';

const require = createRequire(import.meta.url);
const { parse: parseJsonRpc } = require('json-rpc-protocol') as {
  parse: ((m: string) => { type: string; result?: unknown; error?: unknown }) & {
    result(m: string): unknown;
  };
};

const Thing = defineClass({
  name: 'thing',
  doc: 'a fake class so these tests do not depend on the real datamodel',
  fields: {
    uuid: field(t.string, 'DynamicRO', ''),
    power_state: field(t.enumOf('vm_power_state', ['Halted', 'Running']), 'DynamicRO', ''),
    memory: field(t.int, 'RW', ''),
    ratio: field(t.float, 'RW', ''),
    enabled: field(t.bool, 'RW', ''),
    created: field(t.datetime, 'DynamicRO', ''),
    host: field(t.ref('host'), 'RW', ''),
    tags: field(t.set(t.string), 'RW', ''),
    other_config: field(stringMap, 'RW', ''),
  },
  messages: {},
});
const resolve = (cls: string) => (cls === 'thing' ? Thing : undefined);

describe('parseJsonRpcRequest', () => {
  it("reads npm xen-api's v2 request", () => {
    const body =
      '{"id":0,"jsonrpc":"2.0","method":"VM.get_record","params":["OpaqueRef:sess","OpaqueRef:vm"]}';
    assert.deepEqual(parseJsonRpcRequest(body), {
      version: '2.0',
      id: 0,
      method: 'VM.get_record',
      params: ['OpaqueRef:sess', 'OpaqueRef:vm'],
    });
  });

  it('reads v1 requests and string ids', () => {
    const body = '{"method":"session.login_with_password","params":["root","pw",1],"id":"xyz"}';
    assert.deepEqual(parseJsonRpcRequest(body), {
      version: '1.0',
      id: 'xyz',
      method: 'session.login_with_password',
      params: ['root', 'pw', 1],
    });
  });

  it('accepts v2 params as an object (one param), absent or null', () => {
    const v2 = (params: string) =>
      parseJsonRpcRequest(`{"jsonrpc":"2.0","method":"m","id":7${params}}`).params;
    assert.deepEqual(v2(',"params":{"a":1}'), [{ a: 1 }]);
    assert.deepEqual(v2(''), []);
    assert.deepEqual(v2(',"params":null'), []);
  });

  it('throws MalformedRequest where xapi answers HTTP 500', () => {
    const bad = [
      '',
      '{',
      '[]',
      '"str"',
      'null',
      '[{"jsonrpc":"2.0","method":"m","params":[],"id":1}]',
      '{"jsonrpc":"2.0","method":"m","params":[]}',
      '{"jsonrpc":"2.0","method":"m","params":[],"id":null}',
      '{"jsonrpc":"2.0","method":"m","params":[],"id":1.5}',
      '{"jsonrpc":"2.0","method":"m","params":[],"id":true}',
      '{"jsonrpc":"2.0","method":"m","params":[],"id":{}}',
      '{"jsonrpc":"2.0","method":"m","params":"x","id":1}',
      '{"jsonrpc":"2.0","method":"m","params":3,"id":1}',
      '{"jsonrpc":"1.0","method":"m","params":[],"id":1}',
      '{"jsonrpc":2,"method":"m","params":[],"id":1}',
      '{"jsonrpc":"2.0","params":[],"id":1}',
      '{"jsonrpc":"2.0","method":5,"params":[],"id":1}',
      '{"method":"m","id":1}',
      '{"method":"m","params":null,"id":1}',
      '{"method":"m","params":{"a":1},"id":1}',
      '{"method":"m","params":[]}',
    ];
    for (const body of bad) assert.throws(() => parseJsonRpcRequest(body), MalformedRequest, body);
  });
});

describe('writeJson', () => {
  const cases: [string, Ty, unknown, string][] = [
    ['string', t.string, 'a"b\n', '"a\\"b\\n"'],
    ['empty string', t.string, '', '""'],
    ['ref', t.ref('VM'), 'OpaqueRef:NULL', '"OpaqueRef:NULL"'],
    ['int', t.int, 1073741824, '1073741824'],
    ['int64 beyond 2^53 stays exact', t.int, '9223372036854775807', '9223372036854775807'],
    ['int32', t.int32, 3, '3'],
    ['integral float prints as JS does', t.float, 1, '1'],
    ['float', t.float, 0.1 + 0.2, '0.30000000000000004'],
    ['float exponent', t.float, 1e21, '1e+21'],
    ['bool', t.bool, true, 'true'],
    ['datetime', t.datetime, '20240101T00:00:00Z', '"20240101T00:00:00Z"'],
    ['empty set', t.set(t.string), [], '[]'],
    ['set', t.set(t.int), [1, 2], '[1,2]'],
    ['empty map', stringMap, {}, '{}'],
    ['map', t.map(t.string, t.int), { a: 1, 'b"': 2 }, '{"a":1,"b\\"":2}'],
    ['struct in field order', t.struct({ b: t.int32, a: t.string }), { a: 'x', b: 2 }, '{"b":2,"a":"x"}'],
    ['dynamic unwrapped', t.dynamic, { ty: t.set(t.ref('VM')), value: ['OpaqueRef:1'] }, '["OpaqueRef:1"]'],
    ['void', t.void, undefined, '""'],
  ];
  for (const [name, ty, value, expected] of cases) {
    it(name, () => assert.equal(writeJson(ty, value, resolve), expected));
  }

  it('writes complete records in declaration order', () => {
    assert.equal(
      writeJson(t.record('thing'), { memory: 5, uuid: 'u', extra: 1 }, resolve),
      '{"uuid":"u","power_state":"Halted","memory":5,"ratio":0,"enabled":false,"created":"19700101T00:00:00Z",' +
        '"host":"OpaqueRef:NULL","tags":[],"other_config":{}}',
    );
  });
});

describe('encodeJsonValue', () => {
  it('returns the JSON-ready value, matching the text encoder', () => {
    const ty = t.map(t.ref('thing'), t.record('thing'));
    const value = {
      'OpaqueRef:1': { uuid: 'u', tags: ['x'], other_config: { k: 'v' }, ratio: 0.5, enabled: true },
    };
    const v = encodeJsonValue(ty, value, resolve);
    assert.deepEqual(v, JSON.parse(writeJson(ty, value, resolve)));
    assert.deepEqual(
      Object.keys((v as Record<string, object>)['OpaqueRef:1'] ?? {}),
      Object.keys(Thing.fields),
    );
    assert.equal(encodeJsonValue(t.int, '42'), 42);
    assert.equal(encodeJsonValue(t.void, undefined), '');
    assert.deepEqual(encodeJsonValue(t.dynamic, { ty: t.int, value: 3 }), 3);
  });
});

describe('envelopes', () => {
  it('keeps int64 beyond 2^53 exact inside records, and agrees with writeJson', () => {
    const rec = { uuid: 'u', memory: '9223372036854775807', tags: ['a'], other_config: { k: 'v' } };
    const ty = t.map(t.ref('thing'), t.record('thing'));
    const text = encodeJsonSuccess('2.0', 0, ty, { 'OpaqueRef:1': rec }, resolve);
    assert.match(text, /"memory":9223372036854775807,/);
    assert.equal(text, `{"jsonrpc":"2.0","result":${writeJson(ty, { 'OpaqueRef:1': rec }, resolve)},"id":0}`);
    const small = { ...rec, memory: 5, ratio: 0.5, enabled: true };
    assert.equal(
      encodeJsonSuccess('1.0', 1, t.record('thing'), small, resolve),
      `{"result":${writeJson(t.record('thing'), small, resolve)},"error":null,"id":1}`,
    );
  });

  it('caches each record object, so a replaced record (copy-on-write) encodes afresh', () => {
    const ty = t.map(t.ref('thing'), t.record('thing'));
    const a = { uuid: 'a', memory: 1, tags: ['x'] };
    const b = { uuid: 'b', memory: '9223372036854775807' };
    const first = encodeJsonSuccess('2.0', 0, ty, { 'OpaqueRef:a': a, 'OpaqueRef:b': b }, resolve);
    assert.equal(
      first,
      `{"jsonrpc":"2.0","result":${writeJson(ty, { 'OpaqueRef:a': a, 'OpaqueRef:b': b }, resolve)},"id":0}`,
    );
    assert.equal(encodeJsonSuccess('2.0', 0, ty, { 'OpaqueRef:a': a, 'OpaqueRef:b': b }, resolve), first);
    const a2 = { ...a, memory: 2 };
    assert.equal(
      encodeJsonSuccess('1.0', 1, t.record('thing'), a2, resolve),
      `{"result":${writeJson(t.record('thing'), a2, resolve)},"error":null,"id":1}`,
    );
    // Records inside event-like structs and dynamic values come from the same cache.
    const ev = t.struct({ ref: t.string, snapshot: t.dynamic });
    const value = [{ ref: 'OpaqueRef:a', snapshot: { ty: t.record('thing'), value: a } }];
    assert.equal(
      encodeJsonSuccess('2.0', 3, t.set(ev), value, resolve),
      `{"jsonrpc":"2.0","result":${writeJson(t.set(ev), value, resolve)},"id":3}`,
    );
    assert.equal(
      encodeJsonSuccess('2.0', 3, t.map(t.string, t.record('thing')), {}, resolve),
      '{"jsonrpc":"2.0","result":{},"id":3}',
    );
  });

  it('encodes v2 and v1 success exactly', () => {
    assert.equal(
      encodeJsonSuccess('2.0', 0, t.ref('session'), 'OpaqueRef:s'),
      '{"jsonrpc":"2.0","result":"OpaqueRef:s","id":0}',
    );
    assert.equal(encodeJsonSuccess('1.0', 'xyz', t.void, undefined), '{"result":"","error":null,"id":"xyz"}');
  });

  it('encodes v2 and v1 errors exactly', () => {
    assert.equal(
      encodeJsonFailure('2.0', 0, 'SESSION_INVALID', ['OpaqueRef:s']),
      '{"jsonrpc":"2.0","error":{"code":1,"message":"SESSION_INVALID","data":["OpaqueRef:s"]},"id":0}',
    );
    assert.equal(
      encodeJsonFailure('1.0', 'xyz', 'SESSION_INVALID', ['OpaqueRef:s']),
      '{"result":null,"error":["SESSION_INVALID","OpaqueRef:s"],"id":"xyz"}',
    );
    assert.equal(
      encodeJsonFailure('2.0', 3, 'EVENTS_LOST', []),
      '{"jsonrpc":"2.0","error":{"code":1,"message":"EVENTS_LOST","data":[]},"id":3}',
    );
  });

  it("is read by npm xen-api's json-rpc-protocol", () => {
    assert.deepEqual(parseJsonRpc.result(encodeJsonSuccess('2.0', 0, t.set(t.string), ['a'])), ['a']);
    assert.equal(parseJsonRpc.result(encodeJsonSuccess('1.0', 'i', t.int, 7)), 7);
    const v2 = parseJsonRpc(encodeJsonFailure('2.0', 0, 'HANDLE_INVALID', ['VM', 'OpaqueRef:x']));
    assert.equal(v2.type, 'error');
    assert.deepEqual(v2.error, { code: 1, message: 'HANDLE_INVALID', data: ['VM', 'OpaqueRef:x'] });
    const v1 = parseJsonRpc(encodeJsonFailure('1.0', 'i', 'HANDLE_INVALID', ['VM']));
    assert.equal(v1.type, 'error');
    assert.deepEqual(v1.error, ['HANDLE_INVALID', 'VM']);
  });

  it('encodes 10,000 records quickly', () => {
    const records: Record<string, unknown> = {};
    for (let i = 0; i < 10_000; i++) {
      records[`OpaqueRef:${i}`] = {
        uuid: `u${i}`,
        power_state: 'Running',
        memory: i * 1024,
        tags: ['a', 'b'],
        other_config: { k: String(i) },
      };
    }
    const start = performance.now();
    const text = encodeJsonSuccess('2.0', 0, t.map(t.ref('thing'), t.record('thing')), records, resolve);
    const ms = performance.now() - start;
    assert.equal(Object.keys((JSON.parse(text) as { result: object }).result).length, 10_000);
    // Generous: a few ms on a laptop; only a pathological regression fails this.
    assert.ok(ms < 1000, `took ${ms} ms`);
  });
});
