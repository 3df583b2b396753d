/**
 * Tests of the Redis and PostgreSQL stores skip on a developer machine without those servers, but
 * never in CI (CI=true): there `.ci/run` starts them, and a missing server is a failure.
 */
export function unavailable(ctx: Mocha.Context, message: string): never {
  if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') {
    throw new Error(`${message} (CI=true: required services must run)`);
  }
  console.warn(`    ${message}`);
  ctx.skip();
}
