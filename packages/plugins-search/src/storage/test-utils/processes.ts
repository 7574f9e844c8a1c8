/**
 * Test helpers: a loopback `redis-server` on a free port (Debian's package `redis-server`), and
 * TypeScript scripts started as child processes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

export const repoRoot = resolve(process.cwd(), '../..');

const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
/** Whether `redis-server` is on the PATH. */
export const HAVE_REDIS = probe.status === 0;

/** `it` when redis-server is installed; else `it.skip`, after a warning that says what to install. */
export function redisIt(what: string): jest.It {
  if (HAVE_REDIS) return it;
  console.warn(`SKIPPED (${what}): redis-server is not installed; apt-get install -y redis-server to run these tests`);
  return it.skip;
}

/** A port nobody listens on now (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => done(port));
    });
  });
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts `redis-server` on 127.0.0.1 and a free port, without persistence; resolves once it accepts connections. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`redis-server on port ${port} did not start within 10 s:\n${log}`)), 10_000);
    child.stdout!.on('data', (d) => {
      log += d;
      if (log.includes('Ready to accept connections')) {
        clearTimeout(timer);
        ready();
      }
    });
    child.stderr!.on('data', (d) => (log += d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`redis-server on port ${port} exited (${code}):\n${log}`));
    });
  });
  child.removeAllListeners('exit');
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}

export interface Spawned {
  readonly child: ChildProcess;
  /** Resolves at the child's first line on stderr. */
  readonly ready: Promise<void>;
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Runs a TypeScript file (or the core CLI from source) under the source loader, in the repository root. */
export function spawnTs(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Spawned {
  const childEnv = { ...process.env, ...env };
  delete childEnv['NODE_OPTIONS'];
  const child = spawn(process.execPath, ['--conditions=@fairtune/source', '--import', '@swc-node/register/esm-register', script, ...args], { cwd: repoRoot, env: childEnv });
  let stdout = '';
  let stderr = '';
  let signalReady = () => {};
  const ready = new Promise<void>((r) => (signalReady = r));
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => {
    stderr += d;
    if (stderr.includes('\n')) signalReady();
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolveDone, fail) => {
    child.on('error', fail);
    child.on('close', (code, signal) => resolveDone({ code, signal, stdout, stderr }));
  });
  return { child, ready, done };
}
