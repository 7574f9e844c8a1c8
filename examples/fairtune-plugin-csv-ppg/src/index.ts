/**
 * fairtune-plugin-csv-ppg: a dataset plugin outside the built-in packages. It binds a loader
 * stage (`csv-ppg.load`) and a dataset inspector for `fairtune data inspect`; it depends on
 * @fairtune/core's contracts only.
 */
import { ContainerModule } from 'inversify';
import { DATASET_INSPECTOR, STAGE_PLUGIN } from '@fairtune/core/plugin';
import { csvPpgLoader } from './loader.js';
import { csvPpgInspector } from './inspector.js';

export { csvPpgLoader, type CsvPpgParams } from './loader.js';
export { csvPpgInspector, inspectCsvFolder } from './inspector.js';
export { SUBJECTS_FILE } from './folder.js';

export const containerModule = new ContainerModule((options) => {
  options.bind(STAGE_PLUGIN).toConstantValue(csvPpgLoader);
  options.bind(DATASET_INSPECTOR).toConstantValue(csvPpgInspector);
});
