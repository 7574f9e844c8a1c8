/** Public surface of this plugin package: its inversify ContainerModule. */
import { ContainerModule } from 'inversify';

export const containerModule = new ContainerModule(() => {
  // Stage plugins are bound here as they are implemented.
});
