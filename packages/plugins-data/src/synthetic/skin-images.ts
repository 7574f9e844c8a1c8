/**
 * Renders synthetic skin images (RGB uint8, row-major [H, W, 3]): a lesion blob on a skin
 * background. What a classifier can learn is in the lesion: malignant lesions are larger, more
 * irregular, asymmetric, darker and variegated; benign ones small, regular and even; inflammatory
 * (non-neoplastic) patches reddish with soft edges. The group effects act through `contrast`
 * (how far the lesion colour departs from the skin) and `texture` (background mottling that hides
 * the border): the caller lowers one and raises the other for the harder group. The parameter
 * ranges are part of IMAGING_GENERATOR_VERSION (see docs/imaging.md).
 */
import { Rng } from '@fairtune/core/plugin';

export type Rgb = readonly [number, number, number];

/** Skin background colour per Fitzpatrick type 1..6 (light to dark). */
export const SKIN_RGB: readonly Rgb[] = [
  [241, 208, 186],
  [226, 185, 158],
  [203, 156, 122],
  [165, 117, 84],
  [122, 82, 57],
  [86, 57, 42],
];

/** Dermoscopy-like background (HAM10000: magnified, evenly lit, pinkish), before vignetting. */
export const DERMOSCOPY_RGB: Rgb = [222, 168, 150];

export type LesionKind = 'malignant' | 'benign' | 'inflammatory';

/** Shape and colour of one lesion; fixed per lesion, so several views of it share them. */
export interface LesionSpec {
  readonly kind: LesionKind;
  /** Base radius as a fraction of the shorter image side. */
  readonly radius: number;
  /** Amplitude of the border's 3rd/5th angular harmonics (0 = a circle). */
  readonly irregularity: number;
  /** Stretch towards one side (0 = symmetric). */
  readonly asymmetry: number;
  /** 0..1: mix of the pigment into the skin colour at the lesion's centre. */
  readonly contrast: number;
  readonly pigment: Rgb;
  /** Amplitude (fraction) of the colour variegation inside the lesion. */
  readonly variegation: number;
  /** Border softness in pixels. */
  readonly edge: number;
  readonly phases: readonly [number, number, number, number];
}

/** Draws a lesion of `kind`; `contrastScale` is the group effect on visibility (1 = none). */
export function drawLesion(rng: Rng, kind: LesionKind, contrastScale: number, pigment?: Rgb): LesionSpec {
  const phases: [number, number, number, number] = [rng.uniform(0, 2 * Math.PI), rng.uniform(0, 2 * Math.PI), rng.uniform(0, 2 * Math.PI), rng.uniform(0, 2 * Math.PI)];
  const c = (lo: number, hi: number) => Math.min(1, rng.uniform(lo, hi) * contrastScale);
  if (kind === 'malignant') {
    return { kind, radius: rng.uniform(0.17, 0.3), irregularity: rng.uniform(0.1, 0.3), asymmetry: rng.uniform(0.08, 0.28), contrast: c(0.45, 0.8), pigment: pigment ?? [45, 28, 24], variegation: rng.uniform(0.2, 0.45), edge: 1, phases };
  }
  if (kind === 'benign') {
    return { kind, radius: rng.uniform(0.12, 0.22), irregularity: rng.uniform(0, 0.12), asymmetry: rng.uniform(0, 0.1), contrast: c(0.3, 0.6), pigment: pigment ?? [105, 62, 38], variegation: rng.uniform(0, 0.12), edge: 1, phases };
  }
  return { kind, radius: rng.uniform(0.18, 0.32), irregularity: rng.uniform(0, 0.2), asymmetry: rng.uniform(0, 0.15), contrast: c(0.2, 0.4), pigment: pigment ?? [205, 70, 70], variegation: rng.uniform(0, 0.15), edge: 4, phases };
}

export interface ViewSpec {
  readonly width: number;
  readonly height: number;
  readonly skin: Rgb;
  /** Standard deviation of the per-pixel noise (grey levels). */
  readonly noise: number;
  /** Amplitude of the low-frequency background mottling (grey levels). */
  readonly texture: number;
  /** Darken the corners like a dermatoscope's field of view. */
  readonly vignette: boolean;
}

/**
 * Renders one view of `lesion` (position, rotation and scale jittered by `rng`, as different
 * photographs of one lesion differ). Deterministic given the rng state.
 */
export function renderView(rng: Rng, lesion: LesionSpec, view: ViewSpec): Uint8Array {
  const { width: W, height: H } = view;
  const out = new Uint8Array(W * H * 3);
  const short = Math.min(W, H);
  const cx = W / 2 + rng.uniform(-0.1, 0.1) * W;
  const cy = H / 2 + rng.uniform(-0.1, 0.1) * H;
  const rot = rng.uniform(0, 2 * Math.PI);
  const r0 = lesion.radius * short * rng.uniform(0.92, 1.08);
  const skin = view.skin.map((v) => v + rng.normal(0, 6)) as unknown as Rgb;
  const grad = [rng.uniform(-8, 8), rng.uniform(-8, 8)];
  const tex = [rng.uniform(0.15, 0.35), rng.uniform(0.15, 0.35), rng.uniform(0, 2 * Math.PI), rng.uniform(0, 2 * Math.PI)];
  const [p1, p2, p3, p4] = lesion.phases;
  const varFreq = rng.uniform(0.3, 0.6);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const dx = x + 0.5 - cx;
      const dy = y + 0.5 - cy;
      const th = Math.atan2(dy, dx) + rot;
      const radius = r0 * (1 + lesion.irregularity * (0.6 * Math.sin(3 * th + p1) + 0.4 * Math.sin(5 * th + p2))) * (1 + lesion.asymmetry * Math.cos(th - p3));
      const d = Math.hypot(dx, dy);
      // Soft border: 1 inside, 0 outside, linear over `edge` pixels.
      const inside = Math.min(1, Math.max(0, (radius - d) / lesion.edge + 0.5));
      const shade = (grad[0]! * (x / W - 0.5) + grad[1]! * (y / H - 0.5)) + view.texture * Math.sin(tex[0]! * x + tex[2]!) * Math.sin(tex[1]! * y + tex[3]!);
      const vig = view.vignette ? Math.max(0, Math.hypot((x + 0.5) / W - 0.5, (y + 0.5) / H - 0.5) - 0.42) * 4 : 0;
      const vary = 1 + lesion.variegation * Math.sin(varFreq * (x + y) + p4) * Math.cos(varFreq * (x - y));
      for (let c = 0; c < 3; c++) {
        const bg = skin[c]! + shade;
        const lesionColour = bg * (1 - lesion.contrast) + lesion.pigment[c]! * vary * lesion.contrast;
        const v = (bg * (1 - inside) + lesionColour * inside) * (1 - Math.min(0.85, vig)) + rng.normal(0, view.noise);
        out[(y * W + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return out;
}
