export { runMaster } from './daemon.js';
export { loadMasterConfig, type MasterConfig } from './config.js';
export { KeyStore, KEY_STATES, type KeyState } from './keystore.js';
