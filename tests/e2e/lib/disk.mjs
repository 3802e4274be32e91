// Real file-system faults for the storage tests: a small tmpfs mounted by
// the test (to fill it, or to remount it read-only), the immutable
// attribute, and filling a disk to the last byte. Every mount is undone when
// the test ends, and again at process exit whatever happened (a failed test
// must not leave mounts behind).
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const mounts = new Set();

function run(cmd, args) {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** Unmounts (lazily if busy) and removes the mount point. */
export function unmount(dir) {
  if (!mounts.has(dir)) return;
  try { run('umount', [dir]); } catch { try { run('umount', ['-l', dir]); } catch { /* gone */ } }
  mounts.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

process.on('exit', () => { for (const d of [...mounts]) unmount(d); });

/** Mounts a fresh tmpfs of `size` (e.g. '8m') and returns its path. */
export function mountTmpfs(size) {
  const dir = mkdtempSync(path.join(tmpdir(), 'sb-tmpfs-'));
  try {
    run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  mounts.add(dir);
  return dir;
}

export function remount(dir, mode) {
  run('mount', ['-o', `remount,${mode}`, dir]);
}

/** Why this machine cannot mount a tmpfs (a skip message), or false. */
export const cannotMount = (() => {
  try {
    unmount(mountTmpfs('64k'));
    return false;
  } catch (e) {
    return `cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): ${String(e.stderr || e.message).trim()}`;
  }
})();

/** Why `chattr +i` does not work under `dir`, or false. */
export function cannotChattr(dir) {
  const f = path.join(dir, '.chattr-probe');
  try {
    closeSync(openSync(f, 'w'));
    run('chattr', ['+i', f]);
    run('chattr', ['-i', f]);
    rmSync(f);
    return false;
  } catch (e) {
    try { rmSync(f, { force: true }); } catch { /* immutable */ }
    return `chattr +i is not supported here: ${String(e.stderr || e.message).trim()}`;
  }
}

export function chattr(file, flag) {
  run('chattr', [flag, file]);
}

/** Writes `file` until the file system is full to the last block. */
export function fillDisk(file) {
  const fd = openSync(file, 'w');
  try {
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512, 1]) {
      const buf = Buffer.alloc(size, 0x5a);
      for (;;) {
        try { writeSync(fd, buf); } catch (e) { if (e.code === 'ENOSPC') break; throw e; }
      }
    }
  } finally {
    closeSync(fd);
  }
}
