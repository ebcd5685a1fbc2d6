// Local root credentials: an scrypt hash in the data dir, written at first start from
// --root-password-file or POOLSTACK_ROOT_PASSWORD, never stored or logged in clear.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Authenticator } from '../impl/context.js';

interface StoredHash {
  user: string;
  salt: string;
  N: number;
  r: number;
  p: number;
  hash: string;
}

const params = { N: 16384, r: 8, p: 1 };

function derive(password: string, salt: Buffer, p: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, 32, { N: p.N, r: p.r, p: p.p, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function writePasswordHash(file: string, user: string, password: string): Promise<void> {
  const salt = randomBytes(16);
  const hash = await derive(password, salt, params);
  const stored: StoredHash = {
    user,
    salt: salt.toString('base64'),
    ...params,
    hash: hash.toString('base64'),
  };
  writeFileSync(file, JSON.stringify(stored) + '\n', { mode: 0o600 });
}

export class ScryptAuthenticator implements Authenticator {
  private readonly stored: StoredHash;

  constructor(file: string) {
    if (!existsSync(file)) throw new Error(`no root password hash at ${file}`);
    this.stored = JSON.parse(readFileSync(file, 'utf8')) as StoredHash;
  }

  async verify(user: string, password: string): Promise<boolean> {
    const s = this.stored;
    const key = await derive(password, Buffer.from(s.salt, 'base64'), s);
    const want = Buffer.from(s.hash, 'base64');
    return user === s.user && key.length === want.length && timingSafeEqual(key, want);
  }
}
