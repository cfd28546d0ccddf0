// Catalog-only description of a DBOS system-database schema, used to prove that the
// schema we create (migrations/full_v123.sql, migrations/upgrade/*.sql) is identical to
// the one the official @dbos-inc/dbos-sdk creates.
//
//   const snap = await schemaSnapshot(pgClient, 'dbos');
//   const diffs = diffSnapshots(snapA, snapB); // [] when equal
//
// The snapshot is plain JSON (strings, booleans, arrays, objects with sorted keys). It
// never contains OIDs, owners, ACLs or anything else that differs between two databases
// built by the same DDL. Every occurrence of the schema name inside catalog-generated
// text (index/constraint/trigger/function definitions) is replaced by the token
// `{{schema}}`, so snapshots of the same shape under different schema names compare equal.

const SCHEMA_TOKEN = '{{schema}}';

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Replace `"schema".` / `schema.` (qualified references) with `{{schema}}.`. */
function makeNormaliser(schemaName) {
  const quoted = new RegExp(`"${escapeRegExp(schemaName.replace(/"/g, '""'))}"\\.`, 'g');
  // Bare (unquoted) form only matches when not preceded by an identifier char or a quote,
  // so `xdbos.` or `"my dbos".` are left alone.
  const bare = new RegExp(`(?<![A-Za-z0-9_$"])${escapeRegExp(schemaName)}\\.`, 'g');
  return (text) => {
    if (text === null || text === undefined) return text;
    return String(text).replace(quoted, `${SCHEMA_TOKEN}.`).replace(bare, `${SCHEMA_TOKEN}.`);
  };
}

function sortedObject(entries) {
  const out = {};
  for (const [k, v] of [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out[k] = v;
  return out;
}

const RELKIND = {
  r: 'table',
  p: 'partitioned table',
  v: 'view',
  m: 'materialized view',
  S: 'sequence',
  f: 'foreign table',
  c: 'composite type',
};

/**
 * @param {import('pg').Client} pgClient connected client
 * @param {string} schemaName unquoted schema name, e.g. 'dbos'
 */
export async function schemaSnapshot(pgClient, schemaName) {
  const norm = makeNormaliser(schemaName);
  const q = async (sql, params = []) => (await pgClient.query(sql, params)).rows;

  // pg_get_*def() omit the schema qualifier for objects on the search_path, so pin the
  // search_path to pg_catalog while we read (restored afterwards).
  const [{ search_path: savedSearchPath }] = await q('SHOW search_path');
  await q(`SELECT set_config('search_path', 'pg_catalog', false)`);
  try {
    const [nsRow] = await q('SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1', [schemaName]);
    if (!nsRow) return { schemaExists: false };
    const nsOid = nsRow.oid;

    // ---- relations (tables, views, sequences, ... ; indexes are reported per table)
    const rels = await q(
      `SELECT c.oid, c.relname, c.relkind::text AS relkind, c.relpersistence::text AS relpersistence,
              c.relreplident::text AS relreplident, c.reloptions
         FROM pg_catalog.pg_class c
        WHERE c.relnamespace = $1 AND c.relkind IN ('r','p','v','m','S','f')
        ORDER BY c.relname`,
      [nsOid],
    );

    const tables = [];
    for (const rel of rels) {
      const columns = (
        await q(
          `SELECT a.attname,
                  pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
                  pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS default_expr,
                  a.attnotnull, a.attidentity::text AS attidentity, a.attgenerated::text AS attgenerated,
                  CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                       THEN (SELECT collname FROM pg_catalog.pg_collation WHERE oid = a.attcollation) END AS collation
             FROM pg_catalog.pg_attribute a
             JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
             LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum`,
          [rel.oid],
        )
      ).map((c) => {
        const col = { name: c.attname, type: c.type, default: norm(c.default_expr), notNull: c.attnotnull };
        if (c.attidentity) col.identity = c.attidentity;
        if (c.attgenerated) col.generated = c.attgenerated;
        if (c.collation) col.collation = c.collation;
        return col;
      });

      const constraints = await q(
        `SELECT conname, contype::text AS contype, pg_catalog.pg_get_constraintdef(oid, true) AS def,
                condeferrable, condeferred
           FROM pg_catalog.pg_constraint WHERE conrelid = $1`,
        [rel.oid],
      );
      const indexes = await q(
        `SELECT i.relname, pg_catalog.pg_get_indexdef(x.indexrelid) AS def, x.indisvalid,
                EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = x.indexrelid
                        AND k.conrelid = x.indrelid AND k.contype IN ('p','u','x')) AS backs_constraint
           FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
          WHERE x.indrelid = $1`,
        [rel.oid],
      );
      const triggers = await q(
        `SELECT tgname, pg_catalog.pg_get_triggerdef(oid, false) AS def, tgenabled::text AS tgenabled
           FROM pg_catalog.pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal`,
        [rel.oid],
      );

      const entry = {
        kind: RELKIND[rel.relkind] ?? rel.relkind,
        persistence: rel.relpersistence,
        replicaIdentity: rel.relreplident,
        options: rel.reloptions ?? null,
        columns,
        constraints: sortedObject(
          constraints.map((c) => [
            c.conname,
            { type: c.contype, def: norm(c.def), deferrable: c.condeferrable, deferred: c.condeferred },
          ]),
        ),
        indexes: sortedObject(
          indexes.map((i) => [i.relname, { def: norm(i.def), valid: i.indisvalid, backsConstraint: i.backs_constraint }]),
        ),
        triggers: sortedObject(triggers.map((t) => [t.tgname, { def: norm(t.def), enabled: t.tgenabled }])),
      };
      if (rel.relkind === 'v' || rel.relkind === 'm') {
        const [{ def }] = await q('SELECT pg_catalog.pg_get_viewdef($1::oid, true) AS def', [rel.oid]);
        entry.viewDef = norm(def);
      }
      tables.push([rel.relname, entry]);
    }

    // ---- functions / procedures / aggregates
    const funcs = await q(
      `SELECT p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid) AS args, p.prokind::text AS prokind,
              CASE WHEN p.prokind IN ('f','p') THEN pg_catalog.pg_get_functiondef(p.oid) END AS def,
              pg_catalog.pg_get_function_result(p.oid) AS result
         FROM pg_catalog.pg_proc p WHERE p.pronamespace = $1`,
      [nsOid],
    );
    const functions = sortedObject(
      funcs.map((f) => [
        `${f.proname}(${norm(f.args)})`,
        { name: f.proname, identityArgs: norm(f.args), kind: f.prokind, result: norm(f.result), def: norm(f.def) },
      ]),
    );

    // ---- stand-alone types (enums, domains, ranges, composite types not tied to a table)
    const types = await q(
      `SELECT t.typname, t.typtype::text AS typtype, pg_catalog.format_type(t.oid, NULL) AS fmt,
              (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) AS labels,
              CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END AS base
         FROM pg_catalog.pg_type t LEFT JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
        WHERE t.typnamespace = $1 AND t.typelem = 0 AND t.typname NOT LIKE '\\_%'
          AND (t.typrelid = 0 OR c.relkind = 'c')`,
      [nsOid],
    );

    const extensions = await q(
      'SELECT extname FROM pg_catalog.pg_extension WHERE extnamespace = $1 ORDER BY extname',
      [nsOid],
    );

    // ---- recorded migration version(s)
    let migrations = null;
    if (tables.some(([n]) => n === 'dbos_migrations')) {
      const ident = `"${schemaName.replace(/"/g, '""')}"`;
      migrations = (await q(`SELECT * FROM ${ident}.dbos_migrations ORDER BY 1`)).map((r) =>
        sortedObject(Object.entries(r).map(([k, v]) => [k, v === null ? null : String(v)])),
      );
    }

    return {
      schemaExists: true,
      tables: sortedObject(tables),
      functions,
      types: sortedObject(
        types.map((t) => [t.typname, { type: t.typtype, fmt: norm(t.fmt), labels: t.labels, base: t.base }]),
      ),
      extensions: extensions.map((e) => e.extname),
      dbosMigrations: migrations,
    };
  } finally {
    await q(`SELECT set_config('search_path', $1, false)`, [savedSearchPath]);
  }
}

function show(v) {
  const s = JSON.stringify(v);
  return s === undefined ? 'undefined' : s;
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function walk(a, b, path, out) {
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in b)) out.push(`${p}: only in A: ${show(a[k])}`);
      else if (!(k in a)) out.push(`${p}: only in B: ${show(b[k])}`);
      else walk(a[k], b[k], p, out);
    }
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const p = `${path}[${i}]`;
      if (i >= b.length) out.push(`${p}: only in A: ${show(a[i])}`);
      else if (i >= a.length) out.push(`${p}: only in B: ${show(b[i])}`);
      else walk(a[i], b[i], p, out);
    }
    return;
  }
  if (show(a) !== show(b)) out.push(`${path}: A=${show(a)} B=${show(b)}`);
}

/**
 * Human-readable differences between two snapshots (empty array when equal).
 * Column lists are compared positionally; a separate line reports a column-order
 * mismatch so that a single misplaced column is easy to spot.
 */
export function diffSnapshots(a, b) {
  const out = [];
  const ta = (a && a.tables) || {};
  const tb = (b && b.tables) || {};
  for (const name of Object.keys(ta)) {
    if (!tb[name]) continue;
    const na = ta[name].columns.map((c) => c.name);
    const nb = tb[name].columns.map((c) => c.name);
    if (na.join(',') !== nb.join(',')) {
      out.push(`tables.${name}: column order differs: A=(${na.join(', ')}) B=(${nb.join(', ')})`);
    }
  }
  walk(a, b, '', out);
  return out;
}
