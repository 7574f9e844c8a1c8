import { it } from '@jest/globals';
import { checkStageConformance, expectConformance } from '@fairtune/core/testing';
import { csvPpgLoader } from './loader.js';
import { writeCsvFolder } from './test-utils/fixture.js';

it('csv-ppg.load conforms to the stage contract', async () => {
  await expectConformance(checkStageConformance(csvPpgLoader, { params: { root: writeCsvFolder({ seconds: 4 }), fs: 32 } }));
});
