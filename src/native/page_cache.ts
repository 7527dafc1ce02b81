/**
 * {@linkcode mayWriteNow} and {@linkcode mayReadNow}: whether a transfer's bytes
 * may be copied into or out of the page cache on the main thread, because the
 * kernel will not make the call wait, rather than on a worker thread.
 *
 * ## Downloads
 *
 * `sendfile` reads the file's pages from memory when they are there, and from
 * the disk, waiting, when they are not. It runs on the main thread only when
 * every page of the step is in memory, else on a worker thread. `cachestat(2)`
 * (Linux 6.5+, one call) tells; where it finds pages missing, or the kernel has
 * none, `mincore(2)` over a mapping of the step has the last word (three calls,
 * and it sees the pages of a file on overlayfs, which `cachestat` does not).
 *
 * ## Uploads
 *
 * The last step of a spliced upload (`splice` from its pipe into the file) is a
 * buffered write. On a filesystem of a local disk such a write is a copy into
 * memory, a few hundred microseconds per MiB, unless the kernel throttles
 * writers, which it starts to do once its dirty pages pass halfway from the
 * background threshold to the foreground one (`balance_dirty_pages`): only then
 * does the writer sleep. Handing the copy to a worker thread costs a round trip
 * through the runtime per chunk, and on a machine whose cores are busy (clients
 * on the same host, or many transfers) the worker's turn often lands on a busy
 * core: measured here, single 1 GiB uploads ran at 330-890 MiB/s that way against
 * 990-1250 MiB/s copied on the main thread, which waits for that copy anyway.
 *
 * So a write runs on the main thread only while the kernel will not make it
 * wait, which is known from three things:
 *
 * - the file is on a filesystem of a local disk (ext2/3/4, XFS, Btrfs, F2FS,
 *   bcachefs, tmpfs), never on a network or FUSE one, whose writes can wait on
 *   anything;
 * - the system's dirty and under-writeback pages, read from `/proc/vmstat` at
 *   most every {@linkcode SAMPLE_INTERVAL} ms, plus what this process has written
 *   since, stay below a quarter of the way from the background threshold to the
 *   foreground one: half of the span where writers run free, the other half left
 *   for what other processes write between two readings. A cgroup's own dirty
 *   limit is not seen there, hence
 * - no write on the main thread has lately been made to wait in the kernel (the
 *   thread gave up its processor during the call, `ru_nvcsw`) for over
 *   {@linkcode STALL} ms (reclaim, a journal commit, a cgroup's limit): after
 *   one that was, every write goes to worker threads for {@linkcode COOL_DOWN}
 *   times as long as it waited (at most {@linkcode MAX_COOL_DOWN} ms), so that
 *   such waits hold the main thread for at most about a thousandth of the time.
 *   A write that took long only because the thread was preempted, or the
 *   machine's processor taken by its host, says nothing of the disk and changes
 *   nothing.
 *
 * Where `/proc/vmstat` cannot be read, every write goes to worker threads.
 *
 * @module
 */

import {
  cachedPages,
  fileSize,
  filesystemType,
  pageSize,
  residentPages,
  voluntarySwitches,
} from "./libc.ts";

/** Milliseconds a reading of `/proc/vmstat` is trusted for. */
export const SAMPLE_INTERVAL = 100;
/** Milliseconds a write on the main thread may wait in the kernel before writes leave it. */
export const STALL = 2;
/** How many times as long as a write waited in the kernel the next writes go to worker threads. */
export const COOL_DOWN = 1000;
/** The most milliseconds writes stay on worker threads after one wait. */
export const MAX_COOL_DOWN = 60_000;

/** `f_type` of the filesystems whose buffered writes go to the page cache of a local disk. */
const LOCAL_FILESYSTEMS = new Set([
  0xef53, // ext2, ext3, ext4
  0x58465342, // XFS
  0x9123683e, // Btrfs
  0xf2f52010, // F2FS
  0xca451a4e, // bcachefs
  0x01021994, // tmpfs
]);

/** Whether the open file `fd` is on a filesystem of a local disk ({@linkcode LOCAL_FILESYSTEMS}). */
export function onLocalDisk(fd: number): boolean {
  try {
    return LOCAL_FILESYSTEMS.has(filesystemType(fd));
  } catch {
    return false;
  }
}

/** What a {@linkcode WriteBudget} reads of the kernel and the clock: the system's, or a test's. */
export interface KernelReadings {
  /** The text of `/proc/vmstat`; throws where it cannot be read. */
  vmstat(): string;
  /** The calling thread's voluntary context switches so far (`ru_nvcsw`). */
  voluntarySwitches(): number;
  /** Bytes per memory page. */
  pageSize(): number;
  /** Milliseconds, from any origin. */
  now(): number;
}

/** This system's readings. */
const SYSTEM: KernelReadings = {
  vmstat: () => Deno.readTextFileSync("/proc/vmstat"),
  voluntarySwitches,
  pageSize,
  now: () => performance.now(),
};

/**
 * Pages that can be dirtied, as `vmstat` reads, before a quarter of the way from
 * the kernel's background threshold to its foreground one (writers are throttled
 * from halfway on); `null` if a count is missing.
 */
function headroomOf(vmstat: string): number | null {
  const pages = (name: string) => {
    const match = new RegExp(`^${name} (\\d+)$`, "m").exec(vmstat);
    return match ? Number(match[1]) : null;
  };
  const background = pages("nr_dirty_background_threshold");
  const foreground = pages("nr_dirty_threshold");
  const dirty = pages("nr_dirty");
  const writeback = pages("nr_writeback");
  if (background === null || foreground === null || dirty === null || writeback === null) {
    return null;
  }
  return background + (foreground - background) / 4 - dirty - writeback;
}

/**
 * What writes into the page cache on one thread learn of the kernel: whether the
 * next may be made there ({@linkcode WriteBudget.mayWriteNow}), from the dirty
 * pages and from how the last ones went ({@linkcode WriteBudget.writeNow}). The
 * process has one, behind {@linkcode mayWriteNow} and {@linkcode writeNow}.
 */
export class WriteBudget {
  readonly #readings: KernelReadings;
  /** Bytes that can still be written before the limit ({@linkcode headroomOf}), as last read. */
  #headroom = 0;
  #readAt = -Infinity;
  #readable = true;
  #coolUntil = -Infinity;

  /** A budget that reads the kernel's state from `readings` (this system's by default). */
  constructor(readings: KernelReadings = SYSTEM) {
    this.#readings = readings;
  }

  /**
   * Whether `count` bytes may be written now, on this thread, into a file on a
   * local disk ({@linkcode onLocalDisk}): the kernel's dirty pages leave room for
   * them well below the point where it throttles writers, and no such write has
   * been made to wait lately.
   */
  mayWriteNow(count: number): boolean {
    const now = this.#readings.now();
    if (!this.#readable || now < this.#coolUntil) return false;
    if (now - this.#readAt >= SAMPLE_INTERVAL) this.#read(now);
    return this.#headroom > count;
  }

  /**
   * Runs `write`, a write into the page cache that {@linkcode WriteBudget.mayWriteNow}
   * allowed, on this thread, and learns from it: the bytes it wrote (its result,
   * when positive) and whether the kernel made it wait; returns its result.
   */
  writeNow(write: () => number): number {
    const readings = this.#readings;
    const switches = readings.voluntarySwitches();
    const start = readings.now();
    const written = write();
    const end = readings.now();
    this.#headroom -= Math.max(written, 0);
    if (end - start > STALL && readings.voluntarySwitches() > switches) {
      this.#coolUntil = end + Math.min((end - start) * COOL_DOWN, MAX_COOL_DOWN);
    }
    return written;
  }

  #read(now: number): void {
    this.#readAt = now;
    try {
      const pages = headroomOf(this.#readings.vmstat());
      if (pages === null) this.#readable = false;
      else this.#headroom = pages * this.#readings.pageSize();
    } catch {
      this.#readable = false;
    }
  }
}

const budget = new WriteBudget();

/** {@linkcode WriteBudget.mayWriteNow} of the process's main thread. */
export function mayWriteNow(count: number): boolean {
  return budget.mayWriteNow(count);
}

/** {@linkcode WriteBudget.writeNow} of the process's main thread. */
export function writeNow(write: () => number): number {
  return budget.writeNow(write);
}

/**
 * Whether `count` bytes of the open file `fd` from `offset` may be read now, on
 * the main thread: every page of theirs the file has is in memory.
 */
export function mayReadNow(fd: number, offset: number, count: number): boolean {
  try {
    const end = Math.min(offset + count, fileSize(fd));
    // Nothing to read: the call returns at once.
    if (end <= offset) return true;
    const page = pageSize();
    const start = offset - offset % page;
    const pages = Math.ceil((end - start) / page);
    if ((cachedPages(fd, start, end - start) ?? 0) >= pages) return true;
    return (residentPages(fd, start, end - start) ?? 0) >= pages;
  } catch {
    return false;
  }
}
