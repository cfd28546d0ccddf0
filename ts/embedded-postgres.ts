// The embedded Postgres server's entry point (compiled to dist/embedded-postgres.js, which `npm test`, bench/ and
// chaos/ load by path). The supervisor itself lives in ./embedded/, one module per concern. DBOS.launch requires this
// module only when no database URL is configured, so an app with a URL never loads it.
export {
  startEmbeddedPostgres,
  DEFAULT_EMBEDDED_PG_PORT,
  type EmbeddedPostgresOptions,
  type EmbeddedPostgresHandle,
} from './embedded/index';
