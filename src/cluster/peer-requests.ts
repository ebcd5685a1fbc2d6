// The pool's request/answer traffic as the callee serves it (POST /pool/peer, peer.ts): one JSON
// request naming an op, one JSON answer. This file decodes the ops and encodes the answers (a
// refusal as its XenAPI error code and parameters, a failed agent call as AGENT_ERROR); what each
// op does is the coordinator's.
import type http from 'node:http';
import type { RowChange } from '../db/db.js';
import { ApiError } from '../model/errors.js';
import type { AgentResult, HostStatus } from './coordinator-types.js';
import { readJsonBody, sendJson } from './peer.js';

/** The operations a peer may ask of this host. */
export interface PeerOps {
  status(): HostStatus;
  /** `vote`: a candidate for master asks this host to adopt `epoch`. */
  vote(epoch: number, candidate: string | undefined): void;
  /** `follow`: this host is pointed at the master at `master`. */
  follow(master: string, epoch: number): void;
  /** `promote`: this host becomes master once it holds (epoch, gen) (designate-new-master). */
  promote(expect: { epoch: number; gen: number }): Promise<void>;
  /** `admit`: the master's side of a join. */
  admit(rows: RowChange[]): Promise<{ epoch: number }>;
  /** `agent`: a driver call the master sends to this host. */
  agent(call: string, args: unknown[]): Promise<AgentResult>;
  /** `eject`: this host leaves the pool (after the answer is sent). */
  eject(): void;
}

/** Peer answers carry a failed agent call as ['AGENT_ERROR', kind, code, message]. */
class AgentRefusal extends Error {
  constructor(readonly params: string[]) {
    super(params.join(' '));
  }
}

export async function servePeer(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  ops: PeerOps,
): Promise<void> {
  let body: Record<string, unknown>;
  try {
    body = (await readJsonBody(req)) as Record<string, unknown>;
  } catch {
    sendJson(res, 400, { ok: false, error: ['INTERNAL_ERROR', 'bad peer request'] });
    return;
  }
  try {
    const value = await peerOp(body, ops);
    sendJson(res, 200, { ok: true, value: value ?? null });
  } catch (e) {
    const error =
      e instanceof ApiError
        ? [e.code, ...e.params]
        : e instanceof AgentRefusal
          ? ['AGENT_ERROR', ...e.params]
          : ['INTERNAL_ERROR', String(e)];
    sendJson(res, 200, { ok: false, error });
  }
}

async function peerOp(b: Record<string, unknown>, ops: PeerOps): Promise<unknown> {
  switch (b.op) {
    case 'status':
      return ops.status();
    case 'vote':
      ops.vote(Number(b.epoch), typeof b.candidate === 'string' ? b.candidate : undefined);
      return ops.status();
    case 'follow':
      ops.follow(String(b.master), Number(b.epoch));
      return ops.status();
    case 'promote':
      await ops.promote({ epoch: Number(b.epoch), gen: Number(b.gen) });
      return ops.status();
    case 'admit':
      return ops.admit(b.rows as RowChange[]);
    case 'agent': {
      const r = await ops.agent(String(b.call), Array.isArray(b.args) ? (b.args as unknown[]) : []);
      if (!r.ok) throw new AgentRefusal([r.kind, r.code, r.message]);
      return r.value;
    }
    case 'eject':
      ops.eject();
      return ops.status();
    default:
      throw new ApiError('MESSAGE_METHOD_UNKNOWN', [String(b.op)]);
  }
}
