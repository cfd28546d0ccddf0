// Public types of dbos-native: the DBOS Transact TypeScript API (see ts/index.ts for the sources).
export * from './dist/index';
