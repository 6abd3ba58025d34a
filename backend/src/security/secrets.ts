import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Shared secrets (feed token, viewer tokens) held as SHA-256 digests and matched in constant
 * time: hashing first gives equal-length buffers, and every secret is compared, so the time a
 * check takes says nothing about the candidate or which secret it matched.
 */
export class Secrets {
  private readonly digests: Buffer[];

  constructor(secrets: readonly string[]) {
    this.digests = secrets.map(digest);
  }

  get size(): number {
    return this.digests.length;
  }

  /** Whether `candidate` is one of the secrets. */
  matches(candidate: string): boolean {
    const d = digest(candidate);
    let match = false;
    for (const known of this.digests) match = timingSafeEqual(d, known) || match;
    return match;
  }
}
