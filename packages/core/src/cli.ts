#!/usr/bin/env node
/** The `fairtune` executable: wires Ctrl-C to an abort signal and maps the result to the exit code. */
import { internalErrorText, main } from './cli-main.js';
import { TRIAL_WORKER_ENV } from './executor/trial-workers.js';

// A reader that goes away (`fairtune plugins | head`) is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const controller = new AbortController();
let interrupts = 0;
process.on('SIGINT', () => {
  interrupts++;
  if (interrupts === 1) {
    process.stderr.write('\ninterrupting: stopping running stages and writing the run record (Ctrl-C again to quit at once)\n');
    controller.abort(new Error('interrupted'));
  } else {
    process.exit(130);
  }
});

// `self` lets `run` start copies of this CLI as trial workers (a search's `parallel`); a debugger's
// flags are not copied (workers would fight over its port, or wait for a debugger to attach).
const self = { command: process.execPath, args: [...process.execArgv.filter((a) => !a.startsWith('--inspect')), process.argv[1]!] };
// A trial worker's role is for this process only: a `fairtune run` that one of its stages starts is not a worker.
const env = { ...process.env };
delete process.env[TRIAL_WORKER_ENV];
main(process.argv.slice(2), { cwd: process.cwd(), stdout: process.stdout, stderr: process.stderr, env, signal: controller.signal, self })
  .then((code) => {
    process.exitCode = code;
    // Plugins may leave worker threads or timers (e.g. tensor backends); a finished CLI exits —
    // once what it wrote is flushed: to a pipe, stdout is asynchronous, and exiting at once cut
    // `validate --expanded` off at 64 KiB.
    process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
  })
  .catch((err: unknown) => {
    process.stderr.write(internalErrorText(err, process.env));
    process.exit(1);
  });
