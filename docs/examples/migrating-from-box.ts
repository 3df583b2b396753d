// Guide: migrating from box-node-sdk's PersistentSession (docs/migrating.md). A complete program:
// TOKENS_FILE=… TOKEN_ENDPOINT=… CLIENT_ID=… CLIENT_SECRET=… API_URL=… node --import tsx docs/examples/migrating-from-box.ts
// #region box
import { readFile, rm, writeFile } from 'node:fs';
import { PersistentSession, authorizedFetch, fromBoxTokenStore, type BoxStyleTokenStore } from '../../lib/index.js';

const file = process.env.TOKENS_FILE!;

// The TokenStore written for box-node-sdk 3.x, unchanged: one token set, callback methods.
const boxStore: BoxStyleTokenStore = {
  read(callback) {
    readFile(file, 'utf8', (err, text) => {
      if (err !== null) return callback((err as NodeJS.ErrnoException).code === 'ENOENT' ? null : err, null);
      callback(null, JSON.parse(text));
    });
  },
  write(tokenInfo, callback) { writeFile(file, JSON.stringify(tokenInfo), { mode: 0o600 }, callback); },
  clear(callback) { rm(file, { force: true }, callback); },
};

// Before: const client = sdk.getPersistentClient(tokenInfo, boxStore);
const session = new PersistentSession({
  tokenStore: fromBoxTokenStore(boxStore), // the tokens already in it are used as they are
  client: {
    tokenEndpoint: process.env.TOKEN_ENDPOINT ?? 'https://api.box.com/oauth2/token',
    clientId: process.env.CLIENT_ID!,
    clientSecret: process.env.CLIENT_SECRET!,
    authMethod: 'client_secret_post', // Box takes the client credentials in the body
  },
});

const res = await authorizedFetch(session, process.env.API_URL ?? 'https://api.box.com/2.0/users/me');
console.log(JSON.stringify({ status: res.status }));
// #endregion box
