export * from './target/glob.js';
export * from './target/match.js';
export * from './sls-files.js';
export * from './source-cache.js';
export * from './render/index.js';
export * from './top-file.js';
export * from './merge.js';
export * from './pillar/compile.js';
