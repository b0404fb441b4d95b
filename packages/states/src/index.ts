// Targeting, files and pillar
export * from './target/glob.js';
export * from './target/match.js';
export * from './target/types.js';
export * from './target/compound.js';
export * from './target/nodegroups.js';
export * from './target/ip.js';
export * from './sls-files.js';
export * from './source-cache.js';
export * from './render/index.js';
export * from './top-file.js';
export * from './merge.js';
export * from './pillar/compile.js';
export * from './pillar/grain-scan.js';
export * from './pillar/secret-scan.js';
export { readPillarTexts, type PillarText } from './pillar/pillar-files.js';
export { EncryptedSecret, PillarSecret } from './render/secret-tag.js';

// State runs: compile → run → report
export { compileStates, type CompileOptions, type CompiledRun } from './compile/index.js';
export { StateCompileError } from './compile/errors.js';
export type { LowChunk, Requisite, RequisiteKind, RetrySpec } from './compile/types.js';
export { runStates, type RunOptions } from './run/execute.js';
export { summarize, type RunSummary, type StateResult, type StateResults } from './run/results.js';
export { formatHighstate, formatCompileErrors, formatStateReturn, type HighstateFormat } from './output/highstate.js';
export { Redactor, REDACTED } from './redact.js';

// What state modules and their hosts plug into
export type * from './modules/types.js';
export { stateFunction } from './modules/types.js';
export { builtinModules } from './modules/builtin.js';
export { moduleRegistry, type ModuleRegistry } from './modules/registry.js';
export { nodeExecHost, SCRATCH_DIRS, type ExecHostOptions } from './host/template-host.js';
export { processRunner, type CommandRunner, type CommandOptions, type CommandResult } from './host/runner.js';
export { pillarSecretProvider, SecretUnavailableError, type SecretProvider } from './host/secrets.js';
export { localFileServer, type FileServer } from './host/files.js';
export { nodeFs, type HostFs, type FileStat } from './host/fs.js';
export { hostFacts, commandFact, type Fact, type FactSource, type HostReader } from './facts/fact.js';
export type { StateLog } from './host/log.js';
