/**
 * Helpers shared by the strategies. Their params need no reading here: core resolves a
 * strategy's params at pipeline validation (name known, params checked against the strategy's
 * `paramsSchema`, defaults filled in), so `create` receives them complete and well-typed.
 */

/** Training-set size of each group id in [0, G); samples with group −1 are not counted. */
export function groupCounts(groups: Int32Array, G: number): Float64Array {
  const counts = new Float64Array(G);
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (g >= G) throw new RangeError(`training sample ${i} has group id ${g} but there are only ${G} group names`);
    if (g >= 0) counts[g]! += 1;
  }
  return counts;
}
