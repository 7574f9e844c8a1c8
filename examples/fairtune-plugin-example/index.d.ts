// Types of index.js, for TypeScript users of this example package.
import type { ContainerModule } from 'inversify';
import type { StagePlugin } from '@fairtune/core/plugin';

export declare const winsorize: StagePlugin<{ lower: number; upper: number }>;
export declare const containerModule: ContainerModule;
