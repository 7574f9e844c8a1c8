/**
 * Console display of a run. On a TTY: one progress bar per running stage (steps/epochs, ETA)
 * via cli-progress. Otherwise plain, throttled log lines suitable for CI logs. All of it goes
 * to stderr; stdout carries only the run directory path and results.
 */
import cliProgress from 'cli-progress';
import type { ExecutorEvent } from '../executor/executor.js';

export interface ProgressReporter {
  handle(e: ExecutorEvent): void;
  stop(): void;
}

const ICON: Record<string, string> = { executed: '✔', cached: '↺', failed: '✖', skipped: '–' };

export function createProgressReporter(stream: NodeJS.WriteStream, options: { tty?: boolean; verbose?: boolean } = {}): ProgressReporter {
  return (options.tty ?? stream.isTTY) ? new BarReporter(stream, !!options.verbose) : new LineReporter(stream, !!options.verbose);
}

function endLine(e: Extract<ExecutorEvent, { type: 'stage-end' }>): string {
  const metrics = Object.entries(e.metrics)
    .slice(0, 4)
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(4)}`)
    .join(' ');
  return `${ICON[e.status]} ${e.stageId} ${e.status}${e.status === 'executed' || e.status === 'failed' ? ` in ${e.seconds.toFixed(1)}s` : ''}${metrics ? `  ${metrics}` : ''}${e.reason && e.status !== 'cached' ? `: ${e.reason}` : ''}`;
}

class LineReporter implements ProgressReporter {
  readonly #last = new Map<string, { time: number; fraction: number }>();
  constructor(
    readonly stream: NodeJS.WriteStream,
    readonly verbose: boolean,
  ) {}

  handle(e: ExecutorEvent): void {
    const w = (line: string) => this.stream.write(line + '\n');
    if (e.type === 'stage-start') w(`▶ ${e.stageId} (${e.pluginType}) started`);
    else if (e.type === 'stage-end') w(endLine(e));
    else if (e.type === 'run-end') w(`run ${e.status}${e.reason ? `: ${e.reason}` : ''}`);
    else if (e.type === 'stage-event') {
      const ev = e.event;
      if (ev.type === 'log' && (ev.level !== 'debug' || this.verbose)) w(`  [${e.stageId}] ${ev.level === 'info' ? '' : ev.level.toUpperCase() + ': '}${ev.message}`);
      if (ev.type === 'progress') {
        // Throttle: a line every 10 % of the total or every 10 s, whichever comes first.
        const fraction = ev.total ? ev.done / ev.total : 0;
        const last = this.#last.get(e.stageId) ?? { time: 0, fraction: -1 };
        if (e.time - last.time >= 10_000 || fraction - last.fraction >= 0.1 || (ev.total !== undefined && ev.done === ev.total && last.fraction < 1)) {
          this.#last.set(e.stageId, { time: e.time, fraction });
          w(`  [${e.stageId}] ${ev.done}${ev.total !== undefined ? `/${ev.total}` : ''} ${ev.unit ?? ''}${ev.message ? ` ${ev.message}` : ''}`.trimEnd());
        }
      }
    }
  }

  stop(): void {}
}

class BarReporter implements ProgressReporter {
  readonly #multi: cliProgress.MultiBar;
  readonly #bars = new Map<string, cliProgress.SingleBar>();
  constructor(
    readonly stream: NodeJS.WriteStream,
    readonly verbose: boolean,
  ) {
    this.#multi = new cliProgress.MultiBar(
      {
        stream,
        clearOnComplete: true,
        hideCursor: true,
        format: ' {stage} |{bar}| {value}/{total} {unit} ETA {eta_formatted} {message}',
        etaBuffer: 20,
        fps: 10,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  handle(e: ExecutorEvent): void {
    if (e.type === 'stage-start') {
      this.#bars.set(e.stageId, this.#multi.create(1, 0, { stage: e.stageId.padEnd(16), unit: '', message: 'starting' }));
    } else if (e.type === 'stage-end') {
      const bar = this.#bars.get(e.stageId);
      if (bar) {
        this.#multi.remove(bar);
        this.#bars.delete(e.stageId);
      }
      this.#multi.log(endLine(e) + '\n');
    } else if (e.type === 'run-end') {
      this.#multi.log(`run ${e.status}${e.reason ? `: ${e.reason}` : ''}\n`);
    } else if (e.type === 'stage-event') {
      const ev = e.event;
      if (ev.type === 'progress') {
        const bar = this.#bars.get(e.stageId);
        if (bar) {
          if (ev.total !== undefined && bar.getTotal() !== ev.total) bar.setTotal(ev.total);
          bar.update(ev.done, { unit: ev.unit ?? '', message: ev.message ?? '' });
        }
      } else if (ev.type === 'log' && (ev.level !== 'debug' || this.verbose)) {
        this.#multi.log(`  [${e.stageId}] ${ev.level === 'info' ? '' : ev.level.toUpperCase() + ': '}${ev.message}\n`);
      }
    }
  }

  stop(): void {
    this.#multi.stop();
  }
}
