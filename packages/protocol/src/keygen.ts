import nacl from 'tweetnacl';
import { concat } from './crypto.js';

/** Long-term key material as stored on disk (tweetnacl's raw formats). */
export interface MinionKeyMaterial {
  boxSecret: Uint8Array;
  boxPublic: Uint8Array;
}

export interface MasterKeyMaterial {
  /** tweetnacl's 64-byte Ed25519 secret (seed || public). */
  signSecret: Uint8Array;
  boxSecret: Uint8Array;
  /** Ed25519 public || X25519 public: what minions pin. */
  identity: Uint8Array;
}

export function generateMinionKeys(): MinionKeyMaterial {
  const box = nacl.box.keyPair();
  return { boxSecret: box.secretKey, boxPublic: box.publicKey };
}

export function generateMasterKeys(): MasterKeyMaterial {
  const sign = nacl.sign.keyPair();
  const box = nacl.box.keyPair();
  return { signSecret: sign.secretKey, boxSecret: box.secretKey, identity: concat(sign.publicKey, box.publicKey) };
}
