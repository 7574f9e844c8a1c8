/**
 * The journal on Redis, shared with Python Optuna writers: the key layout of Optuna 3.1's
 * `JournalRedisStorage(url, prefix=…)` (4.x: `JournalRedisBackend`, unchanged).
 *
 *   `<prefix>:log_number`  the number of the last record (a counter, created at -1 with SETNX)
 *   `<prefix>:log:<n>`     record n, the JSON line Optuna's file would hold (without the line break)
 *   `<prefix>:snapshot`    Optuna's pickled replay state: written by Python only, never read here
 *                          (we replay from record 0; a Python reader that finds it reads on from it)
 *
 * An append is one Lua script (INCR the counter and SET the record, for each record), so it is
 * atomic against every other writer as Optuna's own `EVAL` is; ours also keeps one append's records
 * contiguous. Reading is Optuna's: GET the counter, then the records up to it; a missing record
 * (a cluster writer between its INCR and SET) is waited for; a last record that is not valid JSON
 * is left unread.
 *
 * The `JournalBackend` interface is synchronous (the search stage's `StudyStore` is), and Redis
 * clients are not: the client (the `redis` package) lives in a worker thread, and each call posts
 * a message and blocks on `Atomics.wait` until the worker answers, or until the timeout, so a dead
 * server is an error naming the URL, never a hang. The worker is unref'd: an open backend does not
 * keep a process alive; `close()` ends the connection.
 */
import { createRequire } from 'node:module';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { FairtuneError } from '@fairtune/core/plugin';
import type { JournalBackend, JournalRecord } from './backend.js';
import { pyJsonDumps, pyJsonLoads } from './python-json.js';

export interface JournalRedisBackendOptions {
  /** Optuna's `prefix` (default `""`, as Optuna's: keys `:log_number`, `:log:0`, …). */
  readonly prefix?: string;
  /** How long connecting may take (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** How long one read or append may take before it is an error (default 30 s). */
  readonly commandTimeoutMs?: number;
}

/** `redis://host[:port][/db]` (or `rediss://`), checked: a URL the client would misread is an error here. */
export function checkRedisUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new FairtuneError('FT_PARAM_INVALID', `storage "${url}": not a URL (use redis://host:port[/db])`, { param: 'storage' });
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new FairtuneError('FT_PARAM_INVALID', `storage "${url}": a Redis URL starts with redis:// or rediss://`, { param: 'storage' });
  if (!u.hostname) throw new FairtuneError('FT_PARAM_INVALID', `storage "${url}": no host (use redis://host:port[/db])`, { param: 'storage' });
  if (u.pathname !== '' && u.pathname !== '/' && !/^\/\d+$/.test(u.pathname)) throw new FairtuneError('FT_PARAM_INVALID', `storage "${url}": the path must be a database number (redis://host:port/0), not "${u.pathname}"`, { param: 'storage' });
  return u;
}

/** The URL without its password, for messages. */
function shown(url: URL): string {
  const u = new URL(url.href);
  if (u.password) u.password = '***';
  return u.href;
}

// Plain JavaScript run in the worker thread (eval'd, so it needs no build step and runs the same
// under the test runner, the source loader and dist).
const WORKER_SOURCE = String.raw`
const { workerData } = require('node:worker_threads');
const { port, flag, url, redisPath, connectTimeoutMs } = workerData;
let client, loadError;
try { client = require(redisPath).createClient({ url, socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: false } }); }
catch (e) { loadError = e; }
// Errors reach the caller through the rejected command; without a listener they would crash the thread.
if (client) client.on('error', () => {});
const APPEND = "redis.call('setnx', KEYS[1], -1) " +
  "for i = 2, #ARGV do " +
  "  local n = redis.call('incr', KEYS[1]) " +
  "  redis.call('set', string.format('%s:log:%d', ARGV[1], n), ARGV[i]) " +
  "end";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function read(prefix, from, waitMs) {
  const max = await client.get(prefix + ':log_number');
  if (max === null) return [];
  const last = Number(max);
  const out = [];
  for (let start = from; start <= last; start += 512) {
    const keys = [];
    for (let n = start; n <= Math.min(last, start + 511); n++) keys.push(prefix + ':log:' + n);
    let values = await client.mGet(keys);
    // A missing record: a writer between its INCR and SET (Optuna's cluster mode). Wait, as Optuna does.
    for (let sleepMs = 100, waited = 0; values.some((v) => v === null); sleepMs = Math.min(sleepMs * 2, 2000)) {
      if (waited >= waitMs) throw new Error('record ' + keys[values.indexOf(null)] + ' is missing although ' + prefix + ':log_number is ' + last);
      await sleep(sleepMs);
      waited += sleepMs;
      values = await client.mGet(keys);
    }
    out.push(...values);
  }
  return out;
}
async function handle(m) {
  if (loadError) throw loadError;
  switch (m.op) {
    case 'connect': await client.connect(); return null;
    case 'read': return await read(m.prefix, m.from, m.waitMs);
    case 'append': await client.eval(APPEND, { keys: [m.prefix + ':log_number'], arguments: [m.prefix, ...m.lines] }); return null;
    case 'close': if (client.isOpen) await client.close(); return null;
  }
  throw new Error('unknown operation ' + m.op);
}
port.on('message', async (m) => {
  let reply;
  try { reply = { ok: true, value: await handle(m) }; }
  catch (e) { reply = { ok: false, error: (e && e.message) || String(e) }; }
  port.postMessage(reply);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  if (m.op === 'close') port.close();
});
`;

export class JournalRedisBackend implements JournalBackend {
  readonly url: string;
  readonly prefix: string;
  readonly #shown: string;
  readonly #worker: Worker;
  readonly #port: MessagePort;
  readonly #flag = new Int32Array(new SharedArrayBuffer(4));
  readonly #commandTimeoutMs: number;
  #closed = false;

  constructor(url: string, options: JournalRedisBackendOptions = {}) {
    const parsed = checkRedisUrl(url);
    this.url = url;
    this.#shown = shown(parsed);
    this.prefix = options.prefix ?? '';
    const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 30_000;
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    const redisPath = createRequire(import.meta.url).resolve('redis');
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { port: port2, flag: this.#flag, url, redisPath, connectTimeoutMs }, transferList: [port2] });
    this.#worker.unref();
    this.#port.unref();
    try {
      this.#call({ op: 'connect' }, connectTimeoutMs + 2000, 'connecting');
    } catch (e) {
      this.#stop();
      throw e;
    }
  }

  readLogs(from: number): Record<string, unknown>[] {
    const lines = this.#call({ op: 'read', prefix: this.prefix, from, waitMs: this.#commandTimeoutMs / 2 }, this.#commandTimeoutMs, 'reading') as string[];
    const logs: Record<string, unknown>[] = [];
    for (let i = 0; i < lines.length; i++) {
      let log: unknown;
      try {
        log = pyJsonLoads(lines[i]!);
      } catch (e) {
        // Optuna leaves an unreadable last record unread (read again next time); one inside the log is an error.
        if (i === lines.length - 1) break;
        throw new FairtuneError('FT_STUDY_FORMAT', `journal on ${this.#shown}: record ${this.prefix}:log:${from + i} is not valid JSON (${(e as Error).message})`, {}, { cause: e });
      }
      if (log === null || typeof log !== 'object' || Array.isArray(log)) throw new FairtuneError('FT_STUDY_FORMAT', `journal on ${this.#shown}: record ${this.prefix}:log:${from + i} is not a JSON object`);
      logs.push(log as Record<string, unknown>);
    }
    return logs;
  }

  appendLogs(records: readonly JournalRecord[]): void {
    if (records.length === 0) return;
    this.#call({ op: 'append', prefix: this.prefix, lines: records.map((r) => pyJsonDumps(r)) }, this.#commandTimeoutMs, 'appending');
  }

  /** Closes the connection (idempotent). */
  close(): void {
    if (this.#closed) return;
    try {
      this.#call({ op: 'close' }, 2000, 'closing');
    } finally {
      this.#stop();
    }
  }

  #stop(): void {
    this.#closed = true;
    this.#port.close();
    void this.#worker.terminate();
  }

  #call(message: Record<string, unknown>, timeoutMs: number, what: string): unknown {
    if (this.#closed) throw new Error(`journal on ${this.#shown}: the connection is closed`);
    Atomics.store(this.#flag, 0, 0);
    this.#port.postMessage(message);
    if (Atomics.wait(this.#flag, 0, 0, timeoutMs) === 'timed-out') {
      // The worker's state is unknown now: it is ended, and this backend with it.
      this.#stop();
      throw new FairtuneError('FT_STUDY_UNREACHABLE', `Redis ${this.#shown}: no answer within ${timeoutMs / 1000} s while ${what} (is redis-server running there?)`);
    }
    const reply = receiveMessageOnPort(this.#port)?.message as { ok: boolean; value?: unknown; error?: string } | undefined;
    if (!reply) throw new Error(`Redis ${this.#shown}: the client thread signalled without an answer while ${what}`);
    if (!reply.ok) throw new FairtuneError('FT_STUDY_UNREACHABLE', `Redis ${this.#shown} (prefix "${this.prefix}"): ${what} failed: ${reply.error}`);
    return reply.value;
  }
}
