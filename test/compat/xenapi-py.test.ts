// Proves that Debian's unmodified XenAPI.py (python3-os-xenapi, XML-RPC via Python's xmlrpc.client) logs in to a real poolstackd with 4 parameters, detects API version 2.21, lists VMs, makes a VM from a template, starts and stops it, sees XenAPI errors as Failure details, and logs out.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  projectRoot,
  startDaemonProcess,
  TEST_PASSWORD,
  type DaemonHandle,
} from '../../src/testing/daemon-process.js';

/** Where Debian's python3-os-xenapi installs the binding; XENAPI_PY overrides it. */
const xenapiPy = process.env.XENAPI_PY ?? '/usr/lib/python3/dist-packages/os_xenapi/client/XenAPI.py';
/** Compiled tests live in dist/test/compat; the script stays in the source tree. */
const clientScript = join(projectRoot, 'test', 'compat', 'xenapi_py_client.py');
const SCRIPT_TIMEOUT_MS = 20_000;

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runPython(args: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // Whatever python3 is on PATH: the script only needs the standard library.
    const child = spawn('python3', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `python3 ${args.join(' ')} timed out after ${SCRIPT_TIMEOUT_MS} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, SCRIPT_TIMEOUT_MS);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run python3: ${e.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("Debian's XenAPI.py against a real poolstackd", () => {
  let daemon: DaemonHandle | undefined;
  let failed = false;

  before(async () => {
    daemon = await startDaemonProcess({ name: 'compat-xenapi-py' });
  });

  after(async () => {
    if (daemon === undefined) return;
    await daemon.stop();
    if (failed) console.error(`compat-xenapi-py failed; data dir kept at ${daemon.dataDir}`);
    else daemon.cleanup();
  });

  it('runs the whole VM lifecycle over XML-RPC', async () => {
    try {
      // Never skip silently: without the binding this test fails and says how to get it.
      assert.ok(
        existsSync(xenapiPy),
        `XenAPI.py not found at ${xenapiPy}: install python3-os-xenapi (apt-get install python3-os-xenapi), or set XENAPI_PY to the file`,
      );
      assert.ok(existsSync(clientScript), `missing ${clientScript}`);
      assert.ok(daemon);
      const run = await runPython([clientScript, xenapiPy, daemon.httpUrl, TEST_PASSWORD]);
      assert.equal(
        run.code,
        0,
        `xenapi_py_client.py exited ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`,
      );
      const lines = run.stdout.trim().split('\n');
      const s = JSON.parse(lines[lines.length - 1] ?? '') as Record<string, unknown>;

      assert.deepEqual(s.steps, [
        'login',
        'VM.get_all_records',
        'VM.clone',
        'VM.provision',
        'VM.start',
        'VM.start again',
        'VM.clean_shutdown',
        'VM.destroy',
        'logout',
      ]);
      // XenAPI.py's version detection: pool.get_all → pool.get_master → host.get_API_version_*.
      assert.equal(s.api_version_before_login, '1.1');
      assert.equal(s.api_version, '2.21');
      assert.equal(s.api_version_after_logout, '1.1');
      assert.equal(s.master_address, '127.0.0.1');
      assert.equal(s.session_this_host_is_master, true);

      // VM.get_all_records: control domain and templates, every record with one field set.
      assert.equal(s.control_domains, 1);
      assert.ok((s.templates as string[]).includes('Debian Bookworm 12'));
      assert.equal(
        (s.vm_record_field_count as number[]).length,
        1,
        'all VM records have the same number of fields',
      );
      assert.deepEqual(s.types, {
        memory_static_max: 'str',
        is_a_template: 'bool',
        other_config: 'dict',
        VBDs: 'list',
      });
      assert.equal(s.template_matches, 1);

      assert.deepEqual(s.after_clone, {
        name_label: 'py-test vm',
        is_a_template: false,
        power_state: 'Halted',
        vbd_count: 1,
      });
      assert.equal(s.power_state_after_start, 'Running');
      assert.equal(s.resident_on_master, true);
      const again = s.start_again as string[];
      assert.equal(again[0], 'VM_BAD_POWER_STATE');
      assert.match(again[1] ?? '', /^OpaqueRef:[0-9a-f-]{36}$/);
      assert.deepEqual(again.slice(2), ['halted', 'running']);
      assert.equal(s.power_state_after_shutdown, 'Halted');
      assert.equal(s.renamed, 'py-test vm renamed');
      assert.equal(s.memory_static_max_after_set, '1073741824');
      assert.equal(s.vm_count_after_destroy, s.vm_count, 'VM.destroy removed the clone');

      // After logout the old ref is dead, with xapi's Failure envelope.
      assert.deepEqual(s.after_logout, {
        Status: 'Failure',
        ErrorDescription: ['SESSION_INVALID', s.old_session_ref],
      });
    } catch (e) {
      failed = true;
      throw e;
    }
  });
});
