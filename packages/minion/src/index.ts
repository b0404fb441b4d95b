export { MasterChannel, ChannelError, type Reply } from './channel.js';
export { loadMinionConfig, masterAddress, type MinionConfig } from './config.js';
export { runMinion } from './daemon.js';
