/**
 * The reactor: how native sockets wait until they can be read or written, without
 * blocking the event loop and without tying up the runtime's worker threads.
 *
 * The socket calls are synchronous and non-blocking (see `libc.ts`): one that
 * would block answers EAGAIN, and the caller then awaits {@linkcode readable} or
 * {@linkcode writable}. Every such wait of a thread goes through ONE epoll
 * instance, and at most ONE `epoll_wait` call is outstanding at any time, on one
 * worker thread, however many sockets wait. The runtime runs such calls and its
 * own file operations on one pool of worker threads (32 in Deno 2.9): were each
 * socket to wait on a thread of its own, 32 stalled clients would stall every
 * file operation of the server, and past that every other transfer too.
 *
 * - A wait registers its descriptor with `EPOLLONESHOT`, through a synchronous
 *   `epoll_ctl`, and is re-armed only while someone waits on it; an `epoll_ctl`
 *   reaches a wait already in progress (epoll_wait(2), NOTES), so a new waiter
 *   needs no wake-up.
 * - When the last waiter goes away (aborted, or its socket closed), an eventfd
 *   registered in the same instance wakes the outstanding `epoll_wait`, which then
 *   ends: no call is left outstanding while nobody waits, so the process can exit
 *   and a test sees no pending operation.
 * - Waits are keyed by descriptor number, registered with an id of their own: a
 *   socket's owner calls {@linkcode forget} before it closes the descriptor, so an
 *   event of the closed socket is never taken for one of a new socket that reuses
 *   its number.
 *
 * The epoll instance and the eventfd are made at the first wait (or by
 * {@linkcode prepareReactor}) and kept for the life of the thread (two
 * descriptors): the main thread's, and each upload thread's (`upload_pumps.ts`),
 * since every thread of the runtime has its own module instances.
 *
 * @module
 */

import {
  type Descriptor,
  E,
  EPOLL,
  epollCreate,
  epollCtl,
  EpollEvents,
  epollWait,
  epollWaitNow,
  eventfd,
  eventfdClear,
  eventfdSignal,
  SystemError,
} from "./libc.ts";

/** Events read from the kernel per `epoll_wait`. */
const EVENTS_PER_WAIT = 256;
/** The epoll data of the eventfd; sockets' ids start at 1. */
const WAKE_ID = 0;
/** What a reader waits for; a writer waits for `EPOLLOUT`. Errors and hang-ups wake both. */
const READABLE = EPOLL.IN | EPOLL.RDHUP;
const WRITABLE = EPOLL.OUT;

interface Waiter {
  /** The events that end this wait. */
  readonly events: number;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  /** Stops listening to the waiter's abort signal. */
  detach: () => void;
}

/** One descriptor's registration. */
interface Watch {
  /** The epoll data its events come back with. */
  readonly id: number;
  readonly fd: number;
  /** Whether it is in the epoll set (armed or, after a one-shot event, disarmed). */
  added: boolean;
  readonly waiters: Set<Waiter>;
}

class Reactor {
  readonly #epoll: Descriptor;
  readonly #wake: Descriptor;
  readonly #events = new EpollEvents(EVENTS_PER_WAIT);
  readonly #byFd = new Map<number, Watch>();
  readonly #byId = new Map<number, Watch>();
  #nextId = WAKE_ID + 1;
  #waiters = 0;
  /** Whether the loop runs (and so whether an `epoll_wait` is, or is about to be, outstanding). */
  #running = false;
  /** Whether an `epoll_wait` is outstanding right now. */
  #inWait = false;
  /** The loop while it runs. */
  #looping: Promise<void> = Promise.resolve();

  constructor() {
    using stack = new DisposableStack();
    this.#epoll = stack.use(epollCreate());
    this.#wake = stack.use(eventfd());
    epollCtl(this.#epoll.fd, EPOLL.CTL_ADD, this.#wake.fd, EPOLL.IN, WAKE_ID);
    stack.move();
  }

  wait(fd: number, events: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    let watch = this.#byFd.get(fd);
    if (!watch) {
      watch = { id: this.#nextId++, fd, added: false, waiters: new Set() };
      this.#byFd.set(fd, watch);
      this.#byId.set(watch.id, watch);
    }
    const registered = watch;
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { events, resolve, reject, detach: () => {} };
      registered.waiters.add(waiter);
      this.#waiters++;
      if (signal) {
        const abort = () => this.#remove(registered, waiter) && reject(signal.reason);
        signal.addEventListener("abort", abort, { once: true });
        waiter.detach = () => signal.removeEventListener("abort", abort);
      }
      try {
        this.#arm(registered);
      } catch (error) {
        this.#remove(registered, waiter);
        reject(error);
        return;
      }
      this.#run();
    });
  }

  forget(fd: number): void {
    const watch = this.#byFd.get(fd);
    if (!watch) return;
    this.#byFd.delete(fd);
    this.#byId.delete(watch.id);
    for (const waiter of [...watch.waiters]) {
      this.#remove(watch, waiter);
      waiter.reject(new Deno.errors.BadResource("the socket was closed"));
    }
    if (!watch.added) return;
    try {
      epollCtl(this.#epoll.fd, EPOLL.CTL_DEL, fd, 0, watch.id);
    } catch {
      // Not in the set any more (already closed): nothing left to remove.
    }
  }

  /** Takes `waiter` off `watch`; false if it was no longer there. Wakes the wait when nobody is left. */
  #remove(watch: Watch, waiter: Waiter): boolean {
    if (!watch.waiters.delete(waiter)) return false;
    waiter.detach();
    this.#waiters--;
    if (this.#waiters === 0 && this.#inWait) eventfdSignal(this.#wake.fd);
    return true;
  }

  /** (Re-)registers `watch` for what its waiters wait for, once. */
  #arm(watch: Watch): void {
    let events = 0;
    for (const waiter of watch.waiters) events |= waiter.events;
    if (events === 0) return;
    const op = watch.added ? EPOLL.CTL_MOD : EPOLL.CTL_ADD;
    epollCtl(this.#epoll.fd, op, watch.fd, events | EPOLL.ONESHOT, watch.id);
    watch.added = true;
  }

  #run(): void {
    if (this.#running) return;
    this.#running = true;
    this.#looping = this.#loop().catch((error) => this.#failAll(error));
  }

  /** Drops every wait (rejected with `BadResource`), lets the loop end, then closes the two descriptors. */
  async close(): Promise<void> {
    for (const fd of [...this.#byFd.keys()]) this.forget(fd);
    await this.#looping;
    this.#epoll[Symbol.dispose]();
    this.#wake[Symbol.dispose]();
  }

  /**
   * Waits for events and hands them out, as long as anyone waits. It stops in the
   * same step that finds nobody waiting, so a wait added right after starts a new
   * loop rather than join one that is ending.
   */
  async #loop(): Promise<void> {
    try {
      while (this.#waiters > 0) {
        this.#inWait = true;
        let count: number;
        try {
          count = await epollWait(this.#epoll.fd, this.#events);
        } finally {
          this.#inWait = false;
        }
        if (count < 0) count = this.#readyNow();
        for (let i = 0; i < count; i++) {
          this.#dispatch(this.#events.data(i), this.#events.events(i));
        }
      }
    } finally {
      this.#running = false;
    }
  }

  /** After a failed wait (its errno lost on the worker thread): what is ready now; EINTR is none. */
  #readyNow(): number {
    try {
      return epollWaitNow(this.#epoll.fd, this.#events);
    } catch (error) {
      if (error instanceof SystemError && error.errno === E.INTR) return 0;
      throw error;
    }
  }

  #dispatch(id: number, events: number): void {
    if (id === WAKE_ID) return eventfdClear(this.#wake.fd);
    const watch = this.#byId.get(id);
    // A socket forgotten after the kernel reported it: nobody to tell.
    if (!watch) return;
    const failed = (events & (EPOLL.ERR | EPOLL.HUP)) !== 0;
    for (const waiter of [...watch.waiters]) {
      if (!failed && (waiter.events & events) === 0) continue;
      this.#remove(watch, waiter);
      waiter.resolve();
    }
    this.#arm(watch);
  }

  /** The reactor itself failed (a bug): every wait fails with it. */
  #failAll(error: unknown): void {
    for (const watch of this.#byFd.values()) {
      for (const waiter of [...watch.waiters]) {
        this.#remove(watch, waiter);
        waiter.reject(error);
      }
    }
  }
}

let instance: Reactor | undefined;

/** This thread's reactor, made at the first wait. */
function reactor(): Reactor {
  return instance ??= new Reactor();
}

/**
 * Resolves once the socket `fd` can be read (or has an error or end to report);
 * rejects with `signal`'s reason when it aborts, or with `BadResource` when the
 * socket is forgotten (closed) meanwhile.
 */
export function readable(fd: number, signal?: AbortSignal): Promise<void> {
  return reactor().wait(fd, READABLE, signal);
}

/** Resolves once the socket `fd` can be written (or has an error to report); rejects as {@linkcode readable}. */
export function writable(fd: number, signal?: AbortSignal): Promise<void> {
  return reactor().wait(fd, WRITABLE, signal);
}

/**
 * Makes the reactor (its epoll instance and eventfd) now rather than at the first
 * wait: a thread that exists to wait on sockets opens its descriptors as it starts.
 */
export function prepareReactor(): void {
  reactor();
}

/**
 * Closes this thread's reactor, once nothing more will wait on it (a thread about
 * to end): every wait left is rejected with `BadResource`, and its two
 * descriptors are closed once no `epoll_wait` is outstanding. A later wait makes
 * a new one.
 */
export async function closeReactor(): Promise<void> {
  const closing = instance;
  instance = undefined;
  await closing?.close();
}

/**
 * Drops every wait on `fd` (rejected with `BadResource`) and its registration;
 * call it before closing a descriptor that may have waited.
 */
export function forget(fd: number): void {
  instance?.forget(fd);
}
