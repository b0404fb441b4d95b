export { runMaster } from './daemon.js';
export { loadMasterConfig, type MasterConfig } from './config.js';
export { KEY_STATES, type KeyState, type KeyStore } from './keystore.js';
export { FileKeyStore } from './file-keystore.js';
export { control } from './control/client.js';
export type { ControlEvent, ControlRequest } from './control/protocol.js';
export { controlSocketPath } from './config.js';
