// The registry: every XenAPI class this product serves, in xapi's order. Dispatch, implicit
// messages, the DB schema, system.listMethods and docs/api are all derived from this object.
import { Console } from './classes/console.js';
import { Event } from './classes/event.js';
import { Host } from './classes/host.js';
import { HostCpu } from './classes/host-cpu.js';
import { HostMetrics } from './classes/host-metrics.js';
import { Message } from './classes/message.js';
import { Network } from './classes/network.js';
import { PBD } from './classes/pbd.js';
import { PIF } from './classes/pif.js';
import { Pool } from './classes/pool.js';
import { Secret } from './classes/secret.js';
import { Session } from './classes/session.js';
import { SR } from './classes/sr.js';
import { Task } from './classes/task.js';
import { VBD } from './classes/vbd.js';
import { VDI } from './classes/vdi.js';
import { VIF } from './classes/vif.js';
import { VM } from './classes/vm.js';
import { VMGuestMetrics } from './classes/vm-guest-metrics.js';
import { VMMetrics } from './classes/vm-metrics.js';
import type { ClassDef, RecordOf } from './define.js';

export const classes = {
  session: Session,
  task: Task,
  event: Event,
  pool: Pool,
  host: Host,
  host_metrics: HostMetrics,
  host_cpu: HostCpu,
  VM: VM,
  VM_metrics: VMMetrics,
  VM_guest_metrics: VMGuestMetrics,
  network: Network,
  VIF: VIF,
  PIF: PIF,
  SR: SR,
  VDI: VDI,
  VBD: VBD,
  PBD: PBD,
  console: Console,
  message: Message,
  secret: Secret,
} as const;

export type Classes = typeof classes;
export type ClassName = keyof Classes;
export type Rec<C extends ClassName> = RecordOf<Classes[C]>;

/** Classes with records (every class but `event`, which only has messages). */
export function isObjectClass(name: string): boolean {
  const c = (classes as Record<string, ClassDef>)[name];
  return c !== undefined && Object.keys(c.fields).length > 0;
}

export function classDef(name: string): ClassDef | undefined {
  return (classes as Record<string, ClassDef>)[name];
}

export { classes as registry };
