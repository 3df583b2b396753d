/**
 * Which running mints a revocation concerns, for {@link UserSession}: a mint that began before its
 * user (or every user) was revoked must keep nothing. Bounded: a per-user entry lives only while a
 * mint that began before it still runs.
 *
 * @module
 */

/** @internal */
export class RevocationEpochs {
  #epoch = 0;
  #allAt = 0;
  /** Per user, the epoch of the latest revocation that a running mint may still have to honour. */
  readonly #userAt = new Map<string, number>();
  /** Running mints per epoch at which they began; epochs only grow, so the first key is the oldest. */
  readonly #running = new Map<number, number>();

  /** Entries held per user (for tests of the bound). */
  get size(): number {
    return this.#userAt.size;
  }

  /** A mint begins: returns its epoch, to pass to {@link revokedSince} and {@link end}. */
  begin(): number {
    const epoch = this.#epoch;
    this.#running.set(epoch, (this.#running.get(epoch) ?? 0) + 1);
    return epoch;
  }

  /** The mint that began at `epoch` settled: drop the entries no running mint can be concerned by. */
  end(epoch: number): void {
    const left = (this.#running.get(epoch) ?? 1) - 1;
    if (left > 0) this.#running.set(epoch, left);
    else this.#running.delete(epoch);
    if (this.#userAt.size === 0) return;
    const oldest = this.#running.keys().next().value ?? Infinity;
    for (const [account, at] of this.#userAt) if (at <= oldest) this.#userAt.delete(account);
  }

  /** Records a revocation of one user, or of every user when `accountId` is undefined. */
  revoke(accountId: string | undefined): void {
    const epoch = ++this.#epoch;
    if (accountId === undefined) {
      this.#allAt = epoch;
      this.#userAt.clear();
    } else if (this.#running.size > 0) {
      this.#userAt.set(accountId, epoch); // only a running mint can be concerned
    }
  }

  /** Whether `accountId` was revoked after `epoch`. */
  revokedSince(accountId: string, epoch: number): boolean {
    return this.#allAt > epoch || (this.#userAt.get(accountId) ?? 0) > epoch;
  }
}
