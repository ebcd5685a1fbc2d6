// Proves the pure parts of `poolstack cluster`: consecutive addresses, the daemon command line,
// and reading a data dir back from a command line (how `cluster down` recognises its daemons).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressAt, daemonArgs, dataDirOf } from './cluster.js';

describe('cluster helpers', () => {
  it('counts addresses on from the base, across octets', () => {
    assert.equal(addressAt('127.0.0.2', 0), '127.0.0.2');
    assert.equal(addressAt('127.0.0.2', 2), '127.0.0.4');
    assert.equal(addressAt('127.0.9.254', 3), '127.0.10.1');
    assert.throws(() => addressAt('255.255.255.255', 1), /past/);
    assert.throws(() => addressAt('127.0.0', 0), /not an IPv4 address/);
    assert.throws(() => addressAt('127.0.0.256', 0), /not an IPv4 address/);
  });

  it('builds a self-sufficient command line whose data dir reads back', () => {
    const args = daemonArgs({
      dataDir: '/d/host2',
      address: '127.0.0.3',
      port: 8443,
      httpPort: 8081,
      hostname: 'host2',
      passwordFile: '/d/root-password',
      extra: ['--dead-after-ms', '2000'],
    });
    assert.match(args[0] ?? '', /poolstackd\.js$/);
    assert.deepEqual(args.slice(1), [
      '--data-dir',
      '/d/host2',
      '--address',
      '127.0.0.3',
      '--port',
      '8443',
      '--http-port',
      '8081',
      '--hostname',
      'host2',
      '--root-password-file',
      '/d/root-password',
      '--dead-after-ms',
      '2000',
    ]);
    assert.equal(dataDirOf(['/usr/bin/node', ...args]), '/d/host2');
  });

  it('reads the data dir only from a poolstackd command line', () => {
    assert.equal(dataDirOf(['node', '/x/poolstackd.js', '--data-dir=/d/h1']), '/d/h1');
    assert.equal(dataDirOf(['node', '/x/other.js', '--data-dir', '/d/h1']), undefined);
    assert.equal(dataDirOf(['node', '/x/poolstackd.js']), undefined);
    assert.equal(dataDirOf([]), undefined);
  });
});
