export * from './header.js';
export * from './formats.js';
export * from './record.js';
export * from './annotation.js';
export * from './writer.js';
