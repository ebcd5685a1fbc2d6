// Every queue, retry loop, body size and backlog has its bound here, with where the number comes from.

export const limits = {
  /** Largest request body accepted on the API (xapi caps XML-RPC bodies near this). */
  rpcBodyBytesMax: 10 * 1024 * 1024,
  /** Sessions one user may hold; the least recently active is destroyed past this (xapi: 500). */
  sessionsPerUserMax: 500,
  /** A session idle this long is destroyed (xapi_globs.ml: 24 h). */
  sessionIdleMs: 24 * 60 * 60 * 1000,
  /** How often expired sessions and finished tasks are swept. */
  sweepIntervalMs: 60 * 1000,
  /** Finished tasks are garbage collected after this (xapi: 65 min). */
  taskFinishedKeepMs: 65 * 60 * 1000,
  /** Pending tasks at once before TOO_MANY_PENDING_TASKS. */
  tasksPendingMax: 1000,
  /** Changes kept in memory for event.from; older tokens fall back to a scan of the tables. */
  changeLogMax: 200_000,
  /** Deletions remembered (persisted) so event.from can report `del` across a restart. */
  deletionLogMax: 100_000,
  /** event.from timeout ceiling, seconds. */
  eventFromTimeoutSecondsMax: 3600,
  /** Events queued per event.register subscriber before EVENTS_LOST. */
  legacyEventQueueMax: 10_000,
  /** Messages (alerts) kept (xapi: 10000). */
  messagesKeptMax: 10_000,
  /** Length of any single string parameter. */
  stringParamBytesMax: 1024 * 1024,
  /** Delay before answering a failed login (xapi sleeps 5 s). */
  authFailureDelayMs: 5000,
  /** One qemu-img metadata run (create, info, resize): these touch headers only, never data. */
  qemuImgTimeoutMs: 60 * 1000,
  /** One whole VDI copy between SRs (a 2 TiB disk at ~200 MB/s takes ~3 h). */
  vdiCopyTimeoutMs: 6 * 60 * 60 * 1000,
} as const;
