export { runMaster } from './daemon.js';
export { loadMasterConfig, type MasterConfig } from './config.js';
export { KeyStore, KEY_STATES, type KeyState } from './keystore.js';
export { control } from './control/client.js';
export type { ControlEvent, ControlRequest } from './control/protocol.js';
export { controlSocketPath } from './config.js';
