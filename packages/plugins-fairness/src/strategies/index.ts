export { inverseFrequencyStrategy } from './inverse-frequency.js';
export { groupDroStrategy } from './group-dro.js';
export { groupReweightStrategy } from './group-reweight.js';
export { adversarialStrategy } from './adversarial.js';
