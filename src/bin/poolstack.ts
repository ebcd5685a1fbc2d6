#!/usr/bin/env node
// poolstack: helper commands. `demo` runs a local 3-host demo pool on the sim driver in
// ./demo-pool (a second start reuses it); `cluster up|down` starts and stops detached local pools
// (cluster.ts); `gen-docs` regenerates docs/api from the model.
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateApiDocs } from '../model/derive/docs.js';
import { noAsyncClasses } from '../model/derive/implicit.js';
import { classes } from '../model/index.js';
import {
  addressAt,
  checkPortsFree,
  clusterCommand,
  clusterLimits,
  daemonArgs,
  findDaemons,
  joinAll,
  startHost,
  waitConnected,
  waitForMaster,
  type ClusterHost,
  type HostPlan,
  type StartedHost,
  describeHosts,
} from './cluster.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function genDocs(): void {
  const dir = join(root, 'docs', 'api');
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of generateApiDocs(classes, noAsyncClasses)) writeFileSync(join(dir, name), text);
  console.log(`wrote ${dir}`);
}

/** The demo's hosts: one API port shared by 127.0.0.2-4 (a pool's hosts share it), an HTTP port each. */
function demoPlans(base: string, passwordFile: string | undefined): HostPlan[] {
  const port = Number(process.env.POOLSTACK_DEMO_PORT ?? 8443);
  const httpPort = Number(process.env.POOLSTACK_DEMO_HTTP_PORT ?? 8080);
  return [0, 1, 2].map((i) => {
    const name = `host${i + 1}`;
    const dataDir = join(base, name);
    const address = addressAt('127.0.0.2', i);
    const args = daemonArgs({
      dataDir,
      address,
      port,
      httpPort: httpPort + i,
      hostname: `demo-${name}`,
      passwordFile,
    });
    return { name, dataDir, address, port, httpPort: httpPort + i, args };
  });
}

/** SIGTERM to every host still running, then SIGKILL after a bounded wait. */
async function stopHosts(hosts: readonly StartedHost[]): Promise<void> {
  await Promise.all(
    hosts.map(async (h) => {
      if (h.hasExited()) return;
      h.child.kill('SIGTERM');
      const timer = setTimeout(() => h.child.kill('SIGKILL'), clusterLimits.stopGraceMs);
      await h.exited;
      clearTimeout(timer);
    }),
  );
}

/**
 * A three-host demo pool in ./demo-pool on the sim driver, attached to this process: Ctrl-C
 * stops it. The first start makes the pool and shows the root password once (the hosts keep only
 * its hash); later starts bring the same pool back, with whichever host is master now.
 */
async function demo(): Promise<void> {
  const base = join(root, 'demo-pool');
  const rel = relative(process.cwd(), base) || '.';
  const running = findDaemons({ under: base });
  if (running.length > 0)
    throw new Error(
      `the demo pool is already running (pids ${running.map((r) => r.pid).join(' ')}); ` +
        `stop it with: node dist/src/bin/poolstack.js cluster down --dir ${rel}`,
    );
  const infoFile = join(base, 'cluster.json');
  const fresh = !existsSync(infoFile);
  if (fresh && existsSync(base) && readdirSync(base).length > 0)
    throw new Error(
      `${base} holds an unfinished demo pool, or one from the older one-host demo; ` +
        `delete it (rm -rf ${rel}) and start again`,
    );
  const passwordFile = join(base, '.first-start-password');
  const plans = demoPlans(base, fresh ? passwordFile : undefined);
  let password: string | undefined;
  if (fresh) {
    mkdirSync(base, { recursive: true, mode: 0o700 });
    password = randomBytes(12).toString('base64url');
    // Handed to the daemons at their first start; they keep only an scrypt hash.
    writeFileSync(passwordFile, password + '\n', { mode: 0o600 });
  }
  const started: StartedHost[] = [];
  let master: string;
  let uuids: Map<string, string>;
  try {
    await checkPortsFree(plans);
    console.log(fresh ? 'Starting a new 3-host demo pool…' : 'Starting the demo pool again…');
    const hosts = await Promise.allSettled(plans.map((p) => startHost(p, false)));
    for (const h of hosts) if (h.status === 'fulfilled') started.push(h.value);
    for (const h of hosts) if (h.status === 'rejected') throw h.reason;
    if (password !== undefined) {
      master = plans[0]?.address ?? '';
      await joinAll(plans, password);
      uuids = await waitConnected(plans, master, password);
    } else {
      master = await waitForMaster(plans);
      const old = JSON.parse(readFileSync(infoFile, 'utf8')) as { hosts: ClusterHost[] };
      uuids = new Map(old.hosts.map((h) => [h.address, h.uuid]));
    }
  } catch (e) {
    await stopHosts(started);
    const logs = plans
      .map((p) => join(relative(process.cwd(), p.dataDir), 'logs', 'poolstackd.log'))
      .join(', ');
    throw new Error(
      `${e instanceof Error ? e.message : String(e)}\nstopped the demo pool; logs: ${logs}` +
        (fresh ? `\ndelete ${rel} to start over` : ''),
    );
  } finally {
    rmSync(passwordFile, { force: true });
  }
  const hosts: ClusterHost[] = describeHosts(started, uuids, master);
  // As `cluster up` writes it, without the password: `poolstack cluster down --dir demo-pool` works.
  writeFileSync(infoFile, JSON.stringify({ hosts }) + '\n');
  printDemo(hosts, password, rel);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping the demo pool…');
    void stopHosts(started);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await Promise.all(
    started.map(async (s) => {
      const how = await s.exited;
      if (!stopping) console.log(`${s.plan.name} (${s.plan.address}) exited (${how})`);
    }),
  );
  console.log('demo pool stopped.');
}

function printDemo(hosts: readonly ClusterHost[], password: string | undefined, rel: string): void {
  const m = hosts.find((h) => h.master);
  const other = hosts.find((h) => !h.master);
  const port = m?.port ?? 8443;
  console.log('');
  console.log(
    password !== undefined
      ? `Poolstack demo pool created: 3 hosts on the sim driver, data in ${rel}/.`
      : `Poolstack demo pool restarted (same pool as before), data in ${rel}/.`,
  );
  for (const h of hosts)
    console.log(
      `  ${basename(h.dataDir)}  ${h.master ? 'master' : 'member'}  https://${h.address}:${h.port}/  ` +
        `http://${h.address}:${h.httpPort}/  uuid ${h.uuid}`,
    );
  console.log('  user     : root');
  if (password !== undefined)
    console.log(`  password : ${password}   <- shown once; only its hash is stored`);
  else console.log(`  password : the one printed when the pool was created (delete ${rel}/ to start over)`);
  console.log(
    `  console  : http://${m?.address ?? '127.0.0.2'}:${m?.httpPort ?? 8080}/  (the web console, in a browser)`,
  );
  console.log('');
  const pw = password ?? 'PASSWORD';
  const xe = `node dist/src/bin/xe.js -s ${m?.address ?? '127.0.0.2'} -p ${port} -u root -pw ${pw}`;
  console.log(`Try it (calls go to the master, ${m?.address ?? '?'}; members answer HOST_IS_SLAVE):`);
  console.log(`  ${xe} host-list`);
  console.log(`  ${xe} vm-install template="Debian Bookworm 12" new-name-label=web01`);
  console.log(`  ${xe} vm-start vm=web01`);
  if (other !== undefined) console.log(`  ${xe} pool-designate-new-master host-uuid=${other.uuid}`);
  console.log(
    `  curl -s http://${m?.address ?? '127.0.0.2'}:${m?.httpPort ?? 8080}/jsonrpc -d '{"jsonrpc":"2.0","id":1,"method":"session.login_with_password","params":["root","${pw}"]}'`,
  );
  console.log('');
  console.log(`Logs: ${rel}/hostN/logs/poolstackd.log. Ctrl-C stops the pool cleanly.`);
}

/** Installs xe's bash completion (default /etc/bash_completion.d/xe). */
function installCompletion(target = '/etc/bash_completion.d/xe'): void {
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(join(root, 'contrib', 'bash-completion', 'xe'), target);
  console.log(`installed ${target}; open a new shell (or: source ${target})`);
}

const commands: Record<string, () => Promise<void>> = {
  demo,
  cluster: () => clusterCommand(process.argv.slice(3)),
  'gen-docs': async () => genDocs(),
  'install-completion': async () => installCompletion(process.argv[3]),
};
const run = commands[process.argv[2] ?? ''];
if (run === undefined) {
  console.error(
    'usage: poolstack demo | cluster up --hosts N --dir DIR [...] | cluster down --dir DIR | gen-docs | install-completion [FILE]',
  );
  process.exit(2);
}
run().catch((e: unknown) => {
  console.error(`poolstack: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
