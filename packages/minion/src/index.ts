export { MasterChannel, ChannelError, type MasterLink, type Reply } from './channel.js';
export { loadMinionConfig, type MinionConfig } from './config.js';
export { FailoverChannel } from './failover.js';
export { masterLabel, parseMasterAddress, tryOrder, type MasterAddress } from './masters.js';
export { runMinion } from './daemon.js';
