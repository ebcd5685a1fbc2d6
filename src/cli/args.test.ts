// Proves xe's argument syntax: key=value split at the first '=', --flags, connection switches, and
// the precedence command line > XE_EXTRA_ARGS > ~/.xe > defaults.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseArgs, parseRcFile, serverUrl, splitExtraArgs, UsageError } from './args.js';

describe('xe args', () => {
  it('splits parameters, flags and map parameters', () => {
    const a = parseArgs(
      ['vm-param-set', 'uuid=u', 'other-config:k=a=b', '--force', '--minimal'],
      undefined,
      new Map(),
    );
    assert.equal(a.command, 'vm-param-set');
    assert.deepEqual(
      [...a.params],
      [
        ['uuid', 'u'],
        ['other-config:k', 'a=b'],
        ['force', 'true'],
        ['minimal', 'true'],
      ],
    );
    assert.equal(a.minimal, true);
  });

  it('reads connection switches and defaults to HTTPS on 443 at 127.0.0.1 as root', () => {
    const d = parseArgs(['vm-list'], undefined, new Map());
    assert.equal(serverUrl(d.connection), 'https://127.0.0.1:443');
    assert.equal(d.connection.username, 'root');
    const a = parseArgs(
      ['vm-list', '-s', 'h', '-p', '8443', '-u', 'admin', '-pw', 'x', '--nossl'],
      undefined,
      new Map(),
    );
    assert.equal(serverUrl(a.connection), 'http://h:8443');
    assert.deepEqual([a.connection.username, a.connection.password], ['admin', 'x']);
    assert.equal(
      serverUrl(parseArgs(['vm-list', '--nossl'], undefined, new Map()).connection),
      'http://127.0.0.1:80',
    );
    assert.equal(a.params.has('nossl'), false, 'connection settings are not command parameters');
  });

  it('takes the command line over XE_EXTRA_ARGS over ~/.xe', () => {
    const rc = parseRcFile('# comment\nserver=rc-host\nport=1\npassword=rcpw\n\n');
    const extra = 'server=extra-host,port=2,password=a\\,b';
    assert.deepEqual(splitExtraArgs(extra), ['server=extra-host', 'port=2', 'password=a,b']);
    const a = parseArgs(['vm-list', '-p', '3'], extra, rc);
    assert.equal(a.connection.server, 'extra-host');
    assert.equal(a.connection.port, 3);
    assert.equal(a.connection.password, 'a,b');
    assert.equal(parseArgs(['vm-list'], undefined, rc).connection.server, 'rc-host');
  });

  it('refuses a missing command name, unknown switches and bad ports', () => {
    assert.throws(() => parseArgs(['uuid=x'], undefined, new Map()), UsageError);
    assert.throws(() => parseArgs(['vm-list', '-x', 'y'], undefined, new Map()), UsageError);
    assert.throws(() => parseArgs(['vm-list', '-p', 'eighty'], undefined, new Map()), UsageError);
    assert.throws(() => parseArgs(['vm-list', '-s'], undefined, new Map()), UsageError);
  });

  it('treats bare words after help as commands to describe', () => {
    assert.deepEqual(
      [...parseArgs(['help', 'vm-start'], undefined, new Map()).params],
      [['vm-start', 'true']],
    );
  });
});
