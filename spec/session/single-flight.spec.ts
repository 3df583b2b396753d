import { expect } from 'chai';
import { SingleFlight } from '../../lib/session/single-flight.js';
import { rejection } from '../support/secrets.js';

describe('SingleFlight', () => {
  it('shares one run among concurrent callers of a key, and starts afresh once it settled', async () => {
    const flight = new SingleFlight<number>();
    let runs = 0;
    const work = async () => {
      runs++;
      await new Promise((r) => {
        setImmediate(r);
      });
      return runs;
    };
    const [a, b] = [flight.run('k', work), flight.run('k', work)];
    expect(a).to.equal(b);
    expect(await a).to.equal(1);
    expect(flight.joins).to.equal(1);
    expect(flight.size).to.equal(0);
    expect(await flight.run('k', work)).to.equal(2);
    expect(await flight.run('other', work)).to.equal(3);
  });

  it('a call for the same key made synchronously from inside the work joins it', async () => {
    const flight = new SingleFlight<string>();
    let runs = 0;
    let inner: Promise<string> | undefined;
    const work = (): Promise<string> => {
      runs++;
      inner ??= flight.run('k', work);
      return Promise.resolve(`run ${runs}`);
    };
    const outer = flight.run('k', work);
    expect(inner).to.equal(outer);
    expect(await outer).to.equal('run 1');
    expect(runs).to.equal(1);
  });

  it('passes failures (also synchronous throws) to every caller and forgets the flight', async () => {
    const flight = new SingleFlight<never>();
    const boom = new Error('boom');
    const throwing = (): Promise<never> => {
      throw boom;
    };
    const [a, b] = [flight.run('k', throwing), flight.run('k', throwing)];
    expect(await rejection(a)).to.equal(boom);
    expect(await rejection(b)).to.equal(boom);
    expect(flight.has('k')).to.equal(false);
  });
});
