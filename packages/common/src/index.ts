export * from './errors.js';
export * from './yaml-file.js';
export * from './config-file.js';
export * from './files.js';
export * from './backoff.js';
export * from './logger.js';
export * from './key-files.js';
export * from './send-queue.js';
