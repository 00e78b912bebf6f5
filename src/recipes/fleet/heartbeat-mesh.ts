/**
 * A heartbeat mesh: every member of a group (found through {@link Membership}, reached at its
 * metadata `address`) sends a small UDP datagram to every other member each `intervalMs`, and
 * feeds the datagrams it receives to one failure detector per peer (phi accrual by default). The
 * result is a suspicion level per peer, published as `suspect` / `recover` events, an
 * `observe()` iterator and {@link HeartbeatMesh.peers}.
 *
 * Advisory only. Suspicion is for routing around a slow or silent peer and for dashboards; it
 * never decides who owns a slot or holds a lock, for three reasons:
 * 1. It is one process's opinion, formed from its own network path and its own event loop. A
 *    partition between two members, or an overloaded observer, produces suspicion of a peer that
 *    is alive and still holds its lease, and would still write to the resources it owns.
 * 2. Only lease expiry is agreed by everyone (the store decides it once) and is known to the
 *    suspect itself: its session's deadline passes before the store's, so it stops acting first.
 *    Taking a slot on suspicion would give it to a second owner while the first still acts.
 * 3. The detector is tuned to err: phi 8 means a live peer is flagged about once in 10^8 checks,
 *    and far more often under CPU starvation (see the membership benchmark).
 * So ownership moves on lease expiry (ShardManager), and suspicion only tells callers where not
 * to send traffic meanwhile.
 *
 * Wire format: a JSON datagram `{"g": group, "f": fromId, "s": sequence}`. There is no
 * authentication: run it on a private network.
 */
import { createSocket, type Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { Clock, Timer } from '../../clock.js';
import { PhiAccrualDetector } from '../../detect/phi-accrual.js';
import type { FailureDetector, FailureDetectorFactory } from '../../detect/types.js';
import { invalidArgument } from '../../errors.js';
import { checkSignal } from '../../store/validate.js';
import { EventBuffers, type ObservedIterator } from '../event-buffer.js';
import type { Member, MemberInfo, Membership } from './membership.js';

/** Options of {@link HeartbeatMesh.start}. */
export interface HeartbeatMeshOptions {
  /**
   * Time between heartbeats to each peer.
   * @default 1000 — Akka's interval; at 100 ms detection is ten times faster for ten times the
   * packets (n·(n-1) datagrams per interval in a group of n).
   */
  intervalMs?: number;
  /**
   * Makes one detector per peer.
   * @default phi accrual with threshold 8, firstHeartbeatEstimateMs = intervalMs and
   * acceptableHeartbeatPauseMs = 3 × intervalMs (Akka's ratio of 3 s to 1 s).
   */
  detector?: FailureDetectorFactory;
  /**
   * How often suspicion is re-evaluated for `suspect`/`recover` events.
   * @default intervalMs / 2
   */
  checkIntervalMs?: number;
  /** Events an `observe()` iterator buffers before dropping the oldest. @default 1000 */
  bufferSize?: number;
  /**
   * Clock for the timers. Detectors made by the default factory use it too.
   * @default the member's session clock — one injected clock drives the whole member.
   */
  clock?: Clock;
}

/** Defaults of {@link HeartbeatMeshOptions}. */
export const HEARTBEAT_MESH_DEFAULTS = Object.freeze({ intervalMs: 1000, bufferSize: 1000 });

/** One peer as this member sees it. */
export interface PeerHealth {
  readonly id: string;
  readonly address: string | undefined;
  /** The detector's suspicion (phi for the default detector). */
  readonly suspicion: number;
  /** Whether the suspicion is below the detector's threshold. */
  readonly available: boolean;
  /** When the last heartbeat arrived (on the mesh's clock), or undefined. */
  readonly lastHeartbeatAt: number | undefined;
}

/** A change of a peer's health. */
export interface MeshEvent {
  readonly type: 'suspect' | 'recover';
  readonly peer: string;
  readonly suspicion: number;
  /** When it was noticed, on the mesh's clock. */
  readonly at: number;
  readonly skipped: number;
}

/** Events of a {@link HeartbeatMesh}. */
export interface HeartbeatMeshEvents {
  suspect: [peer: string, suspicion: number];
  recover: [peer: string, suspicion: number];
  /** Sending or receiving failed (the mesh carries on). */
  socketError: [error: unknown];
}

interface Peer {
  info: MemberInfo;
  host: string;
  port: number;
  detector: FailureDetector;
  suspected: boolean;
}

function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

/**
 * Sends and receives heartbeats for one member.
 *
 * @example
 * ```ts
 * const member = await membership.join(session, { id: 'w1', address: '127.0.0.1:7946' });
 * await using mesh = await HeartbeatMesh.start(membership, member, { intervalMs: 100 });
 * mesh.on('suspect', (peer, phi) => router.avoid(peer));
 * mesh.on('recover', (peer) => router.restore(peer));
 * ```
 */
export class HeartbeatMesh extends EventEmitter<HeartbeatMeshEvents> {
  /** Heartbeat interval. */
  readonly intervalMs: number;
  /** Datagrams sent and received, and ones ignored (unknown sender or another group). */
  readonly stats = { sent: 0, received: 0, ignored: 0 };
  readonly #membership: Membership;
  readonly #member: Member;
  readonly #socket: Socket;
  readonly #clock: Clock;
  readonly #factory: FailureDetectorFactory;
  readonly #checkIntervalMs: number;
  readonly #bufferSize: number;
  readonly #peers = new Map<string, Peer>();
  readonly #buffers = new EventBuffers<MeshEvent>();
  #seq = 0;
  #sendTimer: Timer | undefined;
  #checkTimer: Timer | undefined;
  #closed = false;
  readonly #onJoin = (m: MemberInfo) => this.#addPeer(m);
  readonly #onLeave = (m: MemberInfo) => {
    const p = this.#peers.get(m.id);
    if (p && p.info.joinRevision === m.joinRevision) this.#peers.delete(m.id);
  };

  private constructor(
    membership: Membership,
    member: Member,
    socket: Socket,
    o: Required<Omit<HeartbeatMeshOptions, 'checkIntervalMs'>> & { checkIntervalMs: number },
  ) {
    super();
    this.#membership = membership;
    this.#member = member;
    this.#socket = socket;
    this.#clock = o.clock;
    this.intervalMs = o.intervalMs;
    this.#factory = o.detector;
    this.#checkIntervalMs = o.checkIntervalMs;
    this.#bufferSize = o.bufferSize;
    for (const m of membership.members()) this.#addPeer(m);
    membership.on('join', this.#onJoin);
    membership.on('leave', this.#onLeave);
    socket.on('message', (msg) => this.#receive(msg));
    socket.on('error', (err) => this.emit('socketError', err));
    this.#send();
    this.#check();
  }

  /**
   * Binds a UDP socket on the member's metadata address and starts heartbeating its peers.
   * @throws TENURE_INVALID_ARGUMENT if the member has no address, or for a bad option.
   */
  static async start(
    membership: Membership,
    member: Member,
    options: HeartbeatMeshOptions = {},
  ): Promise<HeartbeatMesh> {
    const address = member.info.address;
    if (address === undefined)
      throw invalidArgument(
        'member',
        'has no address: join with metadata.address "host:port" to use the mesh',
      );
    const intervalMs = options.intervalMs ?? HEARTBEAT_MESH_DEFAULTS.intervalMs;
    if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs < 1)
      throw invalidArgument(
        'options.intervalMs',
        `must be a number of milliseconds ≥ 1, got ${String(intervalMs)}`,
      );
    const checkIntervalMs = options.checkIntervalMs ?? intervalMs / 2;
    if (typeof checkIntervalMs !== 'number' || !Number.isFinite(checkIntervalMs) || checkIntervalMs < 1)
      throw invalidArgument(
        'options.checkIntervalMs',
        `must be a number of milliseconds ≥ 1, got ${String(checkIntervalMs)}`,
      );
    const bufferSize = options.bufferSize ?? HEARTBEAT_MESH_DEFAULTS.bufferSize;
    if (!Number.isSafeInteger(bufferSize) || bufferSize < 1)
      throw invalidArgument('options.bufferSize', `must be an integer ≥ 1, got ${String(bufferSize)}`);
    if (options.detector !== undefined && typeof options.detector !== 'function')
      throw invalidArgument('options.detector', 'must be a function returning a FailureDetector');
    const clock = options.clock ?? member.session.clock;
    const detector =
      options.detector ??
      (() =>
        new PhiAccrualDetector({
          // Akka's defaults, scaled to the interval (1 s heartbeats: 100 ms floor, 3 s pause), so
          // that faster heartbeats also mean faster detection.
          firstHeartbeatEstimateMs: intervalMs,
          minStdDeviationMs: intervalMs / 10,
          acceptableHeartbeatPauseMs: 3 * intervalMs,
          clock,
        }));
    const { host, port } = splitAddress(address);
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.unref();
    return new HeartbeatMesh(membership, member, socket, {
      intervalMs,
      checkIntervalMs,
      bufferSize,
      clock,
      detector,
    });
  }

  #addPeer(m: MemberInfo): void {
    if (m.id === this.#member.id || m.address === undefined) return;
    const had = this.#peers.get(m.id);
    if (had && had.info.joinRevision === m.joinRevision) return;
    const { host, port } = splitAddress(m.address);
    this.#peers.set(m.id, { info: m, host, port, detector: this.#factory(), suspected: false });
  }

  #send(): void {
    if (this.#closed) return;
    const msg = Buffer.from(
      JSON.stringify({ g: this.#membership.group, f: this.#member.id, s: ++this.#seq }),
    );
    for (const p of this.#peers.values()) {
      this.#socket.send(msg, p.port, p.host, (err) => {
        if (err) this.emit('socketError', err);
      });
      this.stats.sent++;
    }
    this.#sendTimer = this.#clock.setTimeout(() => this.#send(), this.intervalMs).unref();
  }

  #receive(msg: Buffer): void {
    let from: string | undefined;
    try {
      const d = JSON.parse(msg.toString('utf8')) as { g?: unknown; f?: unknown };
      if (d.g === this.#membership.group && typeof d.f === 'string') from = d.f;
    } catch {
      // not ours
    }
    const p = from === undefined ? undefined : this.#peers.get(from);
    if (p === undefined) {
      this.stats.ignored++;
      return;
    }
    this.stats.received++;
    p.detector.heartbeat();
    if (p.suspected) this.#evaluate(p);
  }

  #evaluate(p: Peer): void {
    const suspicion = p.detector.suspicion();
    const suspected = suspicion >= p.detector.threshold;
    if (suspected === p.suspected) return;
    p.suspected = suspected;
    const type = suspected ? 'suspect' : 'recover';
    this.#buffers.push({ type, peer: p.info.id, suspicion, at: this.#clock.now(), skipped: 0 });
    this.emit(type, p.info.id, suspicion);
  }

  #check(): void {
    if (this.#closed) return;
    for (const p of this.#peers.values()) this.#evaluate(p);
    this.#checkTimer = this.#clock.setTimeout(() => this.#check(), this.#checkIntervalMs).unref();
  }

  /** The suspicion of one peer now (undefined for an unknown peer). */
  suspicion(id: string): number | undefined {
    return this.#peers.get(id)?.detector.suspicion();
  }

  /** Every known peer's health, sorted by id. */
  peers(): PeerHealth[] {
    return [...this.#peers.values()]
      .map((p) => {
        const suspicion = p.detector.suspicion();
        return {
          id: p.info.id,
          address: p.info.address,
          suspicion,
          available: suspicion < p.detector.threshold,
          lastHeartbeatAt: p.detector.lastHeartbeatAt,
        };
      })
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Suspect/recover events from now on; a slow consumer skips the oldest (counted in `skipped`). */
  observe(options: { signal?: AbortSignal } = {}): ObservedIterator<MeshEvent> {
    checkSignal(options.signal, 'options.signal');
    return this.#buffers.subscribe(this.#bufferSize, options.signal, (e, skipped) => ({ ...e, skipped }));
  }

  /** Stops heartbeating and closes the socket (peers will suspect this member). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sendTimer) this.#clock.clearTimeout(this.#sendTimer);
    if (this.#checkTimer) this.#clock.clearTimeout(this.#checkTimer);
    this.#membership.off('join', this.#onJoin);
    this.#membership.off('leave', this.#onLeave);
    this.#buffers.endAll();
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }

  /**
   * Stops heartbeating and closes the socket, as `close()` does, when an `await using` declaration
   * leaves its scope. Idempotent.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
