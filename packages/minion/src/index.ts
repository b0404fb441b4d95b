export { MasterChannel, ChannelError, type Reply } from './channel.js';
export { loadMinionConfig, type MinionConfig } from './config.js';
export { FailoverChannel } from './failover.js';
export { socketMonitorCounts } from './socket-monitor.js';
export { tryOrder } from './masters.js';
export { runMinion } from './daemon.js';
export { masterTrust, minionKeyPaths } from './identity.js';
