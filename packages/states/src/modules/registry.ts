import { blockdevModule } from './blockdev.js';
import { cmdModule } from './cmd.js';
import { cryptdevModule } from './cryptdev.js';
import { fileModule } from './file.js';
import { luksModule } from './luks.js';
import { lvmModule } from './lvm.js';
import { mountModule } from './mount.js';
import { serviceModule } from './service.js';
import { testModule } from './test.js';
import type { StateFunction, StateModule } from './types.js';

/** The state modules a compile can use, by module name. */
export type ModuleRegistry = ReadonlyMap<string, StateModule>;

export function moduleRegistry(modules: readonly StateModule[]): ModuleRegistry {
  return new Map(modules.map((m) => [m.name, m]));
}

/** Modules that ship with Brine. */
export const builtinModules: ModuleRegistry = moduleRegistry([
  testModule, cmdModule, fileModule, lvmModule, luksModule, cryptdevModule, blockdevModule, mountModule, serviceModule,
]);

export function findFunction(registry: ModuleRegistry, module: string, fun: string): StateFunction<never, never> | undefined {
  const functions = registry.get(module)?.functions;
  return functions && Object.hasOwn(functions, fun) ? functions[fun] : undefined;
}
