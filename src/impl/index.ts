// The implementation of every explicit message, by class. `Handlers<Ctx, Classes>` makes a missing
// or misspelled handler a compile error, the guarantee xapi gets from its generated signatures.
import type { Handlers } from '../model/define.js';
import type { Classes } from '../model/index.js';
import type { Ctx } from './context.js';
import * as ev from './event.js';
import * as hostOps from './host/host.js';
import * as poolOps from './pool/pool.js';
import {
  createMessage,
  createSimple,
  destroyMessage,
  destroySimple,
  messagesSince,
  serverTime,
} from './misc.js';
import * as srOps from './storage/sr.js';
import { createNetwork, destroyNetwork } from './network/network.js';
import { loginWithPassword, logout } from './session.js';
import {
  cloneVdi,
  copyVdiToSr,
  createVdi,
  destroyVdiRecordAndFile,
  resizeVdi,
  scanSr,
} from './storage/vdi.js';
import { cancelTask, createTask, destroyTask, setTaskField } from './task.js';
import {
  allowedVbdDevices,
  allowedVifDevices,
  cloneVm,
  copyVm,
  createVm,
  destroyVm,
  provisionVm,
  setMemory,
  setMemoryLimits,
  setVcpus,
} from './vm/create.js';
import * as dev from './vm/devices.js';
import * as life from './vm/lifecycle.js';
import { poolMigrate } from './vm/migrate.js';
import { checkOperation } from './vm/operations.js';
import { read, setField } from './util.js';

export const handlers: Handlers<Ctx, Classes> = {
  session: {
    login_with_password: (ctx, uname, pwd, version, originator) =>
      loginWithPassword(ctx, uname, pwd, version, originator),
    // A member's own login for the emergency calls; the session is good on this host only.
    slave_local_login_with_password: (ctx, uname, pwd) => loginWithPassword(ctx, uname, pwd, '1.1', ''),
    logout: (ctx) => logout(ctx),
    local_logout: (ctx) => logout(ctx),
  },
  task: {
    create: (ctx, label, description) => createTask(ctx, label, description),
    destroy: (ctx, self) => destroyTask(ctx, self),
    cancel: (ctx, task) => cancelTask(ctx, task),
    set_status: (ctx, self, value) => setTaskField(ctx, self, 'status', value),
    set_progress: (ctx, self, value) => setTaskField(ctx, self, 'progress', value),
    set_result: (ctx, self, value) => setTaskField(ctx, self, 'result', value),
    set_error_info: (ctx, self, value) => setTaskField(ctx, self, 'error_info', value),
  },
  event: {
    register: (ctx, classes) => ev.eventRegister(ctx, classes),
    unregister: (ctx, classes) => ev.eventUnregister(ctx, classes),
    next: (ctx) => ev.eventNext(ctx),
    from: (ctx, classes, token, timeout) => ev.eventFrom(ctx, classes, token, timeout),
    get_current_id: (ctx) => ctx.svc.db.generation,
    inject: (ctx, cls, ref) => ev.eventInject(ctx, cls, ref),
  },
  pool: {
    join: (ctx, address, user, pwd) => poolOps.joinPool(ctx, address, user, pwd, false),
    join_force: (ctx, address, user, pwd) => poolOps.joinPool(ctx, address, user, pwd, true),
    eject: (ctx, host) => poolOps.ejectHost(ctx, host),
    emergency_transition_to_master: (ctx, force) => ctx.svc.cluster.promote(force),
    emergency_reset_master: (ctx, address) => ctx.svc.cluster.follow(address, ctx.svc.cluster.currentEpoch),
    recover_slaves: (ctx) => ctx.svc.cluster.recoverSlaves(),
    designate_new_master: (ctx, host) => ctx.svc.cluster.designate(host),
    sync_database: (ctx) => ctx.svc.cluster.syncDatabase(),
    initial_auth: (ctx) => ctx.svc.cluster.secret(),
  },
  host: {
    enable: (ctx, host) => hostOps.enableHost(ctx, host),
    disable: (ctx, host, autoEnable) => hostOps.disableHost(ctx, host, autoEnable),
    evacuate: (ctx, host) => hostOps.evacuateHost(ctx, host),
    get_vms_which_prevent_evacuation: (ctx, self) => hostOps.vmsPreventingEvacuation(ctx, self),
    shutdown: (ctx, host) => hostOps.shutdownHost(ctx, host),
    reboot: (ctx, host) => hostOps.rebootHost(ctx, host),
    compute_free_memory: (ctx, host) => hostOps.computeFreeMemory(ctx, host),
    is_in_emergency_mode: (ctx) => ctx.svc.cluster.inEmergencyMode,
    destroy: (ctx, host) => poolOps.destroyHost(ctx, host),
    declare_dead: (ctx, host) => poolOps.declareDead(ctx, host),
    get_servertime: (ctx, host) => serverTime(ctx, host),
    get_server_localtime: (ctx, host) => serverTime(ctx, host),
  },
  host_metrics: {},
  host_cpu: {},
  VM: {
    create: (ctx, args) => createVm(ctx, args),
    destroy: (ctx, self) => destroyVm(ctx, self),
    clone: (ctx, vm, newName) => cloneVm(ctx, vm, newName),
    copy: (ctx, vm, newName, sr) => copyVm(ctx, vm, newName, sr),
    provision: (ctx, vm) => provisionVm(ctx, vm),
    start: (ctx, vm, paused, force) => life.start(ctx, vm, paused, force),
    start_on: (ctx, vm, host, paused, force) => life.startOn(ctx, vm, host, paused, force),
    pause: (ctx, vm) => life.pause(ctx, vm),
    unpause: (ctx, vm) => life.unpause(ctx, vm),
    clean_shutdown: (ctx, vm) => life.cleanShutdown(ctx, vm),
    shutdown: (ctx, vm) => life.shutdown(ctx, vm),
    hard_shutdown: (ctx, vm) => life.hardShutdown(ctx, vm),
    clean_reboot: (ctx, vm) => life.cleanReboot(ctx, vm),
    hard_reboot: (ctx, vm) => life.hardReboot(ctx, vm),
    suspend: (ctx, vm) => life.suspend(ctx, vm),
    resume: (ctx, vm, paused, force) => life.resume(ctx, vm, paused, force),
    resume_on: (ctx, vm, host, paused, force) => life.resumeOnHost(ctx, vm, host, paused, force),
    power_state_reset: (ctx, vm) => life.powerStateReset(ctx, vm),
    pool_migrate: (ctx, vm, host, options) => poolMigrate(ctx, vm, host, options),
    assert_can_boot_here: (ctx, self, host) => life.assertCanBootHere(ctx, self, host),
    get_possible_hosts: (ctx, vm) => life.possibleHosts(ctx, vm),
    get_allowed_VBD_devices: (ctx, vm) => allowedVbdDevices(ctx, vm),
    get_allowed_VIF_devices: (ctx, vm) => allowedVifDevices(ctx, vm),
    assert_operation_valid: (ctx, self, op) => {
      const err = checkOperation(self, read(ctx, 'VM', self), op);
      if (err !== undefined) throw err;
    },
    set_memory_limits: (ctx, self, smin, smax, dmin, dmax) =>
      setMemoryLimits(ctx, self, smin, smax, dmin, dmax),
    set_VCPUs_max: (ctx, self, v) => setVcpus(ctx, self, 'VCPUs_max', v),
    set_VCPUs_at_startup: (ctx, self, v) => setVcpus(ctx, self, 'VCPUs_at_startup', v),
    set_memory_static_max: (ctx, self, v) => setMemory(ctx, self, () => ({ memory_static_max: v })),
    set_memory_static_min: (ctx, self, v) => setMemory(ctx, self, () => ({ memory_static_min: v })),
    set_memory_dynamic_max: (ctx, self, v) => setMemory(ctx, self, () => ({ memory_dynamic_max: v })),
    set_memory_dynamic_min: (ctx, self, v) => setMemory(ctx, self, () => ({ memory_dynamic_min: v })),
    set_memory: (ctx, self, v) =>
      setMemory(ctx, self, () => ({ memory_static_max: v, memory_dynamic_max: v, memory_dynamic_min: v })),
  },
  VM_metrics: {},
  VM_guest_metrics: {},
  network: {
    create: (ctx, args) => createNetwork(ctx, args),
    destroy: (ctx, self) => destroyNetwork(ctx, self),
  },
  VIF: {
    create: (ctx, args) => dev.createVif(ctx, args),
    destroy: (ctx, self) => dev.destroyVif(ctx, self),
    plug: (ctx, self) => dev.plugVif(ctx, self),
    unplug: (ctx, self) => dev.unplugVif(ctx, self),
  },
  PIF: {},
  SR: {
    set_name_label: (ctx, self, v) => setField(ctx, 'SR', self, 'name_label', v),
    set_name_description: (ctx, self, v) => setField(ctx, 'SR', self, 'name_description', v),
    create: (ctx, host, dc, size, name, descr, type, content, shared, sm) =>
      srOps.createSr(ctx, host, dc, size, name, descr, type, content, shared, sm),
    introduce: (ctx, uuid, name, descr, type, content, shared, sm) =>
      srOps.introduceSr(ctx, uuid, name, descr, type, content, shared, sm),
    forget: (ctx, sr) => srOps.forgetSr(ctx, sr),
    destroy: (ctx, sr) => srOps.destroySr(ctx, sr),
    scan: (ctx, sr) => scanSr(ctx, sr),
    get_supported_types: (ctx) => [...ctx.svc.storageTypes],
  },
  VDI: {
    set_name_label: (ctx, self, v) => setField(ctx, 'VDI', self, 'name_label', v),
    set_name_description: (ctx, self, v) => setField(ctx, 'VDI', self, 'name_description', v),
    create: (ctx, args) => createVdi(ctx, args),
    destroy: (ctx, self) => destroyVdiRecordAndFile(ctx, self),
    clone: (ctx, vdi) => cloneVdi(ctx, vdi),
    snapshot: (ctx, vdi) => cloneVdi(ctx, vdi, { snapshot: true }),
    copy: (ctx, vdi, sr, _base, into) => copyVdiToSr(ctx, vdi, sr, into),
    resize: (ctx, vdi, size) => resizeVdi(ctx, vdi, size),
  },
  VBD: {
    create: (ctx, args) => dev.createVbd(ctx, args),
    destroy: (ctx, self) => dev.destroyVbd(ctx, self),
    plug: (ctx, self) => dev.plugVbd(ctx, self),
    unplug: (ctx, self) => dev.unplugVbd(ctx, self),
    unplug_force: (ctx, self) => dev.unplugVbd(ctx, self),
    eject: (ctx, vbd) => dev.ejectVbd(ctx, vbd),
    insert: (ctx, vbd, vdi) => dev.insertVbd(ctx, vbd, vdi),
  },
  PBD: {
    create: (ctx, args) => srOps.createPbd(ctx, args),
    destroy: (ctx, self) => srOps.destroyPbd(ctx, self),
    plug: (ctx, self) => srOps.plugPbd(ctx, self),
    unplug: (ctx, self) => srOps.unplugPbd(ctx, self),
  },
  console: {
    create: (ctx, args) => createSimple('console', ctx, args),
    destroy: (ctx, self) => destroySimple('console', ctx, self),
  },
  message: {
    create: (ctx, name, priority, cls, objUuid, body) =>
      createMessage(ctx, name, priority, cls, objUuid, body),
    destroy: (ctx, self) => destroyMessage(ctx, self),
    get_since: (ctx, since) => messagesSince(ctx, since),
  },
  secret: {
    create: (ctx, args) => createSimple('secret', ctx, args),
    destroy: (ctx, self) => destroySimple('secret', ctx, self),
  },
};
