import type { StateFunction, StateModule } from './types.js';

/** The state modules a compile can use, by module name. */
export type ModuleRegistry = ReadonlyMap<string, StateModule>;

export function moduleRegistry(modules: readonly StateModule[]): ModuleRegistry {
  return new Map(modules.map((m) => [m.name, m]));
}

export function findFunction(registry: ModuleRegistry, module: string, fun: string): StateFunction | undefined {
  const functions = registry.get(module)?.functions;
  return functions && Object.hasOwn(functions, fun) ? functions[fun] : undefined;
}
