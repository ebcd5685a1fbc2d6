// xapi's RBAC roles, most to least privileged. A message names the least privileged role that may
// call it; every role above it may too (xapi `_R_POOL_ADMIN` … `_R_READ_ONLY`).
export const roles = [
  'pool-admin',
  'pool-operator',
  'vm-power-admin',
  'vm-admin',
  'vm-operator',
  'read-only',
] as const;

export type Role = (typeof roles)[number];

/** True when a subject holding `held` may call a message that requires `needed`. */
export function roleAllows(held: Role, needed: Role): boolean {
  return roles.indexOf(held) <= roles.indexOf(needed);
}
