// The decision rule registered in docs/experiments.md (entry 2026-12-04, "What counts as a
// mitigation working"), shared by the scripts that apply it to registered runs
// (fairness-grid-verdicts.mjs, transfer-seeds-verdicts.mjs). The worse-served group is fixed in
// advance: female, the group the synthetic generator affects.

/** Registered: harm when overall MAE's CI lies entirely above +1 bpm. */
export const OVERALL_HARM_BPM = 1;

/** The registered rule for one method: CIs are [lo, hi] of the mean paired change (method − ERM). */
export function registeredVerdict(c) {
  const labels = [];
  if (c.gap.hi < 0) {
    if (c.female.hi < 0) labels.push('works');
    else if (c.male.lo > 0) labels.push('levelling down');
    else labels.push('gap closes; neither rule\'s group condition holds (no registered category)');
  } else if (c.gap.lo > 0) labels.push('harm (gap widens)');
  else labels.push('no detectable effect');
  if (c.overall.lo > OVERALL_HARM_BPM) labels.push(`harm (overall MAE CI above +${OVERALL_HARM_BPM} bpm)`);
  return labels.join('; ');
}

