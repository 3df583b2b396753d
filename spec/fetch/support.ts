import type { AuthSession } from '../../lib/fetch/auth-session.js';

/** A session that records what it is told, delegating to a real one (the table uses no mocks). */
export function spied(inner: AuthSession): AuthSession & { reported: Error[]; tokenCalls: number } {
  const s = {
    reported: [] as Error[],
    tokenCalls: 0,
    async getAccessToken(): Promise<string> {
      s.tokenCalls += 1;
      return inner.getAccessToken();
    },
    async handleExpiredTokensError(err: Error): Promise<Error> {
      s.reported.push(err);
      return inner.handleExpiredTokensError(err);
    },
  };
  return s;
}

/** A promise with its resolve function, to hold a session's answer back. */
export function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
