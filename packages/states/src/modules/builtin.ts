import { groupModule, userModule } from './accounts.js';
import { blockdevModule } from './blockdev.js';
import { cmdModule } from './cmd.js';
import { cryptdevModule } from './cryptdev.js';
import { fileModule } from './file.js';
import { luksModule } from './luks-keys.js';
import { lvmModule } from './lvm.js';
import { mountModule } from './mount.js';
import { pkgModule } from './pkg.js';
import { serviceModule } from './service.js';
import { moduleRegistry, type ModuleRegistry } from './registry.js';
import { testModule } from './test.js';

/** Modules that ship with Brine; the only place that names them. */
export const builtinModules: ModuleRegistry = moduleRegistry([
  testModule,
  cmdModule,
  fileModule,
  lvmModule,
  luksModule,
  cryptdevModule,
  blockdevModule,
  mountModule,
  serviceModule,
  pkgModule,
  userModule,
  groupModule,
]);
