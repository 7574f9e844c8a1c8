/**
 * Helpers for writing `run()` as an async function while returning the Observable the
 * executor expects. Unsubscribing (Ctrl-C, another stage failing) aborts the signal.
 */
import { Observable } from 'rxjs';
import type { Artifact } from './contracts/artifact.js';
import type { LogLevel, StageEvent } from './contracts/stage-plugin.js';

export interface StageEmitter {
  progress(done: number, total?: number, message?: string, unit?: string): void;
  log(level: LogLevel, message: string): void;
  metric(name: string, value: number, at?: { step?: number; epoch?: number }): void;
  artifact(port: string, artifact: Artifact): void;
  environment(key: string, value: string): void;
  /** Yields to the event loop so progress renders and cancellation is seen; throws if aborted. */
  checkpoint(): Promise<void>;
}

/**
 * Runs `body` with an emitter; completes when it resolves, errors when it throws.
 * `signal` combines the caller's signal with unsubscription.
 */
export function runAsync(
  signal: AbortSignal,
  body: (emit: StageEmitter, signal: AbortSignal) => Promise<void>,
): Observable<StageEvent> {
  return new Observable<StageEvent>((subscriber) => {
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    if (signal.aborted) controller.abort(signal.reason);
    else signal.addEventListener('abort', onAbort, { once: true });
    const next = (e: StageEvent) => {
      if (!subscriber.closed) subscriber.next(e);
    };
    const emit: StageEmitter = {
      progress: (done, total, message, unit) => next({ type: 'progress', done, total, message, unit }),
      log: (level, message) => next({ type: 'log', level, message }),
      metric: (name, value, at) => next({ type: 'metric', name, value, ...at }),
      artifact: (port, artifact) => next({ type: 'artifact', port, artifact }),
      environment: (key, value) => next({ type: 'environment', key, value }),
      checkpoint: async () => {
        await new Promise<void>((resolve) => setImmediate(resolve));
        controller.signal.throwIfAborted();
      },
    };
    body(emit, controller.signal).then(
      () => subscriber.complete(),
      (err: unknown) => subscriber.error(err),
    );
    return () => {
      signal.removeEventListener('abort', onAbort);
      controller.abort(new Error('stage cancelled'));
    };
  });
}
