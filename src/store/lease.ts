// Leases: what a running tsbuild process uses and a garbage collection must keep. Each process that
// writes or reuses blobs and snapshots holds one lease file per root, leases/<pid>-<rand>.json, that
// lists them (digests of blobs, chain IDs of snapshots) together with the owner's identity (pid,
// start time, boot), so a lease of a process that died (crash, SIGKILL) is recognised as stale,
// ignored and removed; nothing needs the owner to clean up. A live owner's file goes when it exits.
//
// The protocol that keeps a sweep from deleting something a process is about to use: a process adds
// an item to its lease BEFORE it checks that the item exists (or writes it), and the addition is made
// under the same lock (locks/gc.lock) that a collection holds from reading the leases to the end of
// its sweep. So an addition comes either wholly before a collection (which then sees it) or wholly
// after it (and the existence check that follows sees what the sweep left: a missing blob is written
// again, a missing snapshot unpacked again, a missing base image is an error).
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { listNames, tempName } from '../util/fs.js';
import { tempOwner } from './leftovers.js';
import { acquireLock, processAlive, type Lock } from './lock.js';
import { identify, identityAlive, type ProcessIdentity } from '../util/process-identity.js';

export interface LeaseItems {
  /** Blob digests (sha256:...). */
  blobs?: Iterable<string>;
  /** Snapshot chain IDs (sha256:...). */
  snapshots?: Iterable<string>;
}

interface LeaseFile {
  owner: ProcessIdentity | { pid: number };
  blobs: string[];
  snapshots: string[];
}

/** A collection can take a while on a big store; writers wait for it rather than fail. */
const LEASE_LOCK_WAIT_MS = 30 * 60_000;

export function leasesDir(root: string): string {
  return path.join(path.resolve(root), 'leases');
}

export function gcLockPath(root: string): string {
  return path.join(path.resolve(root), 'locks', 'gc.lock');
}

/** The collector's side: the exclusive lock held from reading the leases to the end of a sweep. */
export async function acquireGcLock(root: string): Promise<Lock> {
  mkdirSync(path.dirname(gcLockPath(root)), { recursive: true, mode: 0o700 });
  return acquireLock(gcLockPath(root), LEASE_LOCK_WAIT_MS);
}

interface ProcessLease {
  file: string;
  blobs: Set<string>;
  snapshots: Set<string>;
  /** Additions of this process, one at a time, so a slower write never replaces a newer one. */
  queue: Promise<void>;
}

const leases = new Map<string, ProcessLease>();
let exitHookInstalled = false;

function processLease(root: string): ProcessLease {
  const key = path.resolve(root);
  let lease = leases.get(key);
  if (!lease) {
    lease = {
      file: path.join(leasesDir(key), `${process.pid}-${randomBytes(6).toString('hex')}.json`),
      blobs: new Set(),
      snapshots: new Set(),
      queue: Promise.resolve(),
    };
    leases.set(key, lease);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      // The lease lives as long as the process: a CLI command is one process.
      process.once('exit', () => {
        for (const l of leases.values()) rmSync(l.file, { force: true });
      });
    }
  }
  return lease;
}

/**
 * Adds items to this process's lease on `root`, under the collector's lock. Call it before checking
 * that the items exist, or before writing them: afterwards no collection removes them until this
 * process ends (or releaseLeases is called).
 */
export async function lease(root: string, items: LeaseItems): Promise<void> {
  const own = processLease(root);
  const blobs = [...(items.blobs ?? [])].filter((d) => !own.blobs.has(d));
  const snapshots = [...(items.snapshots ?? [])].filter((c) => !own.snapshots.has(c));
  if (blobs.length === 0 && snapshots.length === 0) return;
  const step = own.queue.then(async () => {
    const lock = await acquireGcLock(root);
    try {
      // The sets change only once the file says so: an item in them is on disk, so a caller that
      // finds all its items there may go on at once.
      const nextBlobs = new Set([...own.blobs, ...blobs]);
      const nextSnapshots = new Set([...own.snapshots, ...snapshots]);
      await writeLease(own.file, nextBlobs, nextSnapshots);
      own.blobs = nextBlobs;
      own.snapshots = nextSnapshots;
    } finally {
      await lock.release();
    }
  });
  own.queue = step.catch(() => undefined);
  await step;
}

async function writeLease(file: string, blobs: ReadonlySet<string>, snapshots: ReadonlySet<string>): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const body: LeaseFile = { owner: identify(process.pid) ?? { pid: process.pid }, blobs: [...blobs], snapshots: [...snapshots] };
  // Atomic but not fsynced: after a crash the owner is dead and its lease means nothing anyway.
  // Synchronous: a lease is a few KB, written several times per command (util/fs.ts says why).
  const tmp = tempName(path.dirname(file));
  try {
    writeFileSync(tmp, JSON.stringify(body));
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** For long-lived library users: drops this process's lease on `root` (what it holds may then be collected). */
export async function releaseLeases(root: string): Promise<void> {
  const key = path.resolve(root);
  const own = leases.get(key);
  if (!own) return;
  leases.delete(key);
  await own.queue;
  await rm(own.file, { force: true });
}

const LEASE_NAME = /^(\d+)-[a-f0-9]+\.json$/;

function ownerAlive(owner: LeaseFile['owner'] | undefined): boolean {
  if (!owner) return false;
  // Without a start time (/proc could not name it) the pid alone: a reused pid keeps it, harmlessly.
  return 'startTime' in owner ? identityAlive(owner) : processAlive(owner.pid);
}

export interface LiveLeases {
  blobs: Set<string>;
  snapshots: Set<string>;
  /** Processes other than this one that hold a lease (builds, pulls, commits running now). */
  otherOwners: number;
}

/**
 * Every live lease on the root, this process's included; the files of dead owners are removed. Call
 * it with the collector's lock held, or the answer may be stale when used.
 */
export async function readLiveLeases(root: string): Promise<LiveLeases> {
  const dir = leasesDir(root);
  const out: LiveLeases = { blobs: new Set(), snapshots: new Set(), otherOwners: 0 };
  for (const name of listNames(dir)) {
    const file = path.join(dir, name);
    const tempPid = tempOwner(name);
    if (tempPid !== undefined) {
      if (!processAlive(tempPid)) await rm(file, { force: true });
      continue;
    }
    if (!LEASE_NAME.test(name)) continue;
    const body = await readFile(file, 'utf8')
      .then((t) => JSON.parse(t) as LeaseFile)
      .catch(() => undefined);
    if (!body || !ownerAlive(body.owner)) {
      await rm(file, { force: true });
      continue;
    }
    for (const d of body.blobs ?? []) out.blobs.add(d);
    for (const c of body.snapshots ?? []) out.snapshots.add(c);
    if (body.owner.pid !== process.pid) out.otherOwners += 1;
  }
  return out;
}

/** Removes the lease files of processes that no longer run (start-up recovery may call it). */
export async function removeStaleLeases(root: string): Promise<void> {
  await readLiveLeases(root);
}
