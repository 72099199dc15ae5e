import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * Encryption at rest for secrets the API must give back or use later (Azure service-principal passwords,
 * banking secure data). AES-256-GCM from node:crypto with a 32-byte key from configuration; the purpose string
 * is bound as associated data, so a ciphertext copied into another column does not decrypt.
 * Stored form: `v1:` + base64url(iv ‖ tag ‖ ciphertext).
 */
export class SecretBox {
  #key: Buffer | undefined;
  readonly #loadKey: () => Buffer;

  /** The key, or how to get it on first use (so a CLI command that never touches a secret never needs one). */
  constructor(key: Buffer | (() => Buffer)) {
    this.#loadKey = typeof key === 'function' ? key : () => key;
  }

  /** Loads the key now; the server calls this at start so a missing key stops it before it listens. */
  ready(): this {
    this.#keyNow();
    return this;
  }

  #keyNow(): Buffer {
    if (!this.#key) {
      const key = this.#loadKey();
      if (key.length !== 32) throw new Error('SecretBox needs a 32-byte key');
      this.#key = key;
    }
    return this.#key;
  }

  seal(purpose: string, plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#keyNow(), iv);
    cipher.setAAD(Buffer.from(purpose, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `v1:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  open(purpose: string, sealed: string): string {
    if (!sealed.startsWith('v1:')) throw new Error('unknown secret format');
    const raw = Buffer.from(sealed.slice(3), 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.#keyNow(), raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(purpose, 'utf8'));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }

  /**
   * A keyed digest (HMAC-SHA-256, hex) of text that may hold secrets, for comparing without storing it: unlike a
   * plain hash, it cannot be used to confirm a guessed secret without the key.
   */
  mac(purpose: string, text: string): string {
    return createHmac('sha256', this.#keyNow()).update(purpose).update('\0').update(text).digest('hex');
  }

  sealJson(purpose: string, value: unknown): string {
    return this.seal(purpose, JSON.stringify(value));
  }

  openJson<T>(purpose: string, sealed: string): T {
    return JSON.parse(this.open(purpose, sealed)) as T;
  }
}

/** A key written as 64 hex digits or as base64 of 32 bytes; anything else is refused. */
export function parseEncryptionKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const key = Buffer.from(trimmed, trimmed.includes('-') || trimmed.includes('_') ? 'base64url' : 'base64');
    if (key.length === 32) return key;
  }
  return undefined;
}

export function newEncryptionKey(): string {
  return randomBytes(32).toString('hex');
}
