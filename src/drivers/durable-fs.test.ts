// Proves writeFileAtomic replaces a file whole and leaves no temp file behind, even when it fails.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { errnoCode, writeFileAtomic } from './durable-fs.js';

void it('replaces content atomically and cleans up after a failed write', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'poolstack-dfs-'));
  try {
    const file = path.join(dir, 'state.json');
    await writeFileAtomic(file, 'one');
    await writeFileAtomic(file, 'two');
    assert.equal(await fs.readFile(file, 'utf8'), 'two');
    assert.deepEqual(await fs.readdir(dir), ['state.json']);

    // Renaming onto a directory fails after the temp file was written; the temp must not linger.
    await fs.mkdir(path.join(dir, 'sub'));
    await fs.writeFile(path.join(dir, 'sub', 'x'), 'x');
    await assert.rejects(writeFileAtomic(path.join(dir, 'sub'), 'three'), (e) => errnoCode(e) !== undefined);
    assert.deepEqual((await fs.readdir(dir)).sort(), ['state.json', 'sub']);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
