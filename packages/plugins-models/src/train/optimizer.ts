/**
 * Adam / AdamW over an explicit variable list, with a learning rate set per step. Written here
 * (rather than tf.train.adam) because tfjs has no AdamW, its learning rate is fixed at
 * construction, and we need gradient clipping and projected gradients between "compute" and
 * "apply". Frozen variables are never passed in, so they get no optimiser state.
 */
import * as tf from '@tensorflow/tfjs';

export interface AdamOptions {
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
  /** L2 coefficient: coupled (added to the gradient) for `adam`, decoupled for `adamw`. */
  readonly weightDecay?: number;
  readonly decoupled?: boolean;
}

export class Adam {
  readonly #m = new Map<string, tf.Variable>();
  readonly #v = new Map<string, tf.Variable>();
  #t = 0;
  readonly #b1: number;
  readonly #b2: number;
  readonly #eps: number;
  readonly #wd: number;
  readonly #decoupled: boolean;

  constructor(opts: AdamOptions = {}) {
    this.#b1 = opts.beta1 ?? 0.9;
    this.#b2 = opts.beta2 ?? 0.999;
    this.#eps = opts.epsilon ?? 1e-8;
    this.#wd = opts.weightDecay ?? 0;
    this.#decoupled = opts.decoupled ?? false;
  }

  /** Number of variables holding optimiser state (for tests: frozen variables have none). */
  get stateSize(): number {
    return this.#m.size;
  }

  /** One update with bias-corrected moments (PyTorch semantics). `grads` are not disposed. */
  apply(vars: ReadonlyMap<string, tf.Variable>, grads: Readonly<Record<string, tf.Tensor>>, lr: number): void {
    this.#t++;
    const bc1 = 1 - Math.pow(this.#b1, this.#t);
    const bc2 = 1 - Math.pow(this.#b2, this.#t);
    tf.tidy(() => {
      for (const [name, g0] of Object.entries(grads)) {
        const v = vars.get(name);
        if (!v) throw new Error(`optimiser got a gradient for unknown variable "${name}"`);
        let m = this.#m.get(name);
        let s = this.#v.get(name);
        if (!m || !s) {
          m = tf.variable(tf.zerosLike(v), false);
          s = tf.variable(tf.zerosLike(v), false);
          this.#m.set(name, m);
          this.#v.set(name, s);
        }
        const g = this.#wd > 0 && !this.#decoupled ? tf.add(g0, tf.mul(v, this.#wd)) : g0;
        const m1 = tf.add(tf.mul(m, this.#b1), tf.mul(g, 1 - this.#b1));
        const v1 = tf.add(tf.mul(s, this.#b2), tf.mul(tf.square(g), 1 - this.#b2));
        m.assign(m1);
        s.assign(v1);
        const update = tf.div(tf.div(m1, bc1), tf.add(tf.sqrt(tf.div(v1, bc2)), this.#eps));
        let next = tf.sub(v, tf.mul(update, lr));
        if (this.#wd > 0 && this.#decoupled) next = tf.sub(next, tf.mul(v, lr * this.#wd));
        v.assign(next);
      }
    });
  }

  dispose(): void {
    for (const t of [...this.#m.values(), ...this.#v.values()]) t.dispose();
    this.#m.clear();
    this.#v.clear();
  }
}

/** Scales all gradients so their global L2 norm is at most maxNorm (torch clip_grad_norm_); returns the norm before clipping. */
export function clipByGlobalNorm(grads: Record<string, tf.Tensor>, maxNorm: number): number {
  const norm = Math.sqrt(
    tf.tidy(() => tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))).dataSync()[0]!),
  );
  if (maxNorm > 0 && norm > maxNorm) {
    const scale = maxNorm / (norm + 1e-6);
    for (const k of Object.keys(grads)) {
      const old = grads[k]!;
      grads[k] = tf.mul(old, scale);
      old.dispose();
    }
  }
  return norm;
}

/** Linear warmup from 0 to lr over `warmupSteps`, then cosine decay to `minLr` at `totalSteps`. */
export function warmupCosine(step: number, totalSteps: number, lr: number, warmupSteps: number, minLr = 0): number {
  if (warmupSteps > 0 && step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
  const span = Math.max(1, totalSteps - warmupSteps);
  const p = Math.min(1, (step - warmupSteps) / span);
  return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * p));
}

/** Optimiser and schedule settings shared by pretraining and fine-tuning. */
export interface OptimiserSettings {
  readonly optimizer: 'adam' | 'adamw';
  readonly learningRate: number;
  readonly minLearningRate: number;
  readonly weightDecay: number;
  readonly warmupSteps: number;
  readonly epochs: number;
  readonly batchSize: number;
  /** Max global gradient norm; 0 disables clipping. */
  readonly gradClipNorm: number;
}
