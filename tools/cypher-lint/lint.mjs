#!/usr/bin/env node
// Lints Cypher statements with Neo4j's own language support (@neo4j-cypher/language-support),
// the checks Neo4j Browser and the VS Code extension run: syntax, semantic analysis
// (undefined variables, type errors, clauses in the wrong place), undeclared parameters,
// and, when a schema is given, labels, relationship types, property keys and directions
// that the graph does not have.
//
// stdin (JSON):
//   {
//     "statements": [{"name": "orders_merge", "text": "UNWIND $rows AS row ...", "parameters": ["rows"]}],
//     "schema": {"labels": [...], "relationshipTypes": [...], "propertyKeys": [...],
//                "graphSchema": [{"from": "Buyer", "to": "Order", "relType": "PLACED"}]},
//     "versions": ["CYPHER 5", "CYPHER 25"]
//   }
// stdout (JSON):
//   {"results": [{"name": ..., "version": ..., "diagnostics":
//                 [{"severity": "error"|"warning"|"information"|"hint", "message": ..., "line": 1, "column": 1}]}]}
//
// Every statement is linted under each version (default: both versions Neo4j 5.x and 2025.x run).
// Only the parameters a statement declares are known to the linter, so a typo in a $name is an error.
//
// The package asks for Node >= 24 in its manifest (npm warns EBADENGINE) but runs on Debian's Node 20,
// which ./dev test installs; tests/test_cypher_lint.py checks that it still catches planted mistakes.
import { lintCypherQuery } from '@neo4j-cypher/language-support';

const SEVERITY = { 1: 'error', 2: 'warning', 3: 'information', 4: 'hint' };

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (chunk) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function lintOne(statement, schema, version) {
  const parameters = Object.fromEntries((statement.parameters ?? []).map((name) => [name, {}]));
  const dbSchema = { ...schema, parameters, defaultLanguage: version };
  // Console commands (:param, :use) are not Cypher the driver can send.
  const { diagnostics } = lintCypherQuery(statement.text, dbSchema, { consoleCommandsEnabled: false });
  return diagnostics.map((d) => ({
    severity: SEVERITY[d.severity] ?? String(d.severity),
    message: d.message,
    line: d.range.start.line + 1,
    column: d.range.start.character + 1,
  }));
}

async function main() {
  let request;
  try {
    request = JSON.parse(await readStdin());
  } catch (err) {
    process.stderr.write(`cypher-lint: stdin is not JSON (${err.message}); see the comment at the top of lint.mjs\n`);
    process.exit(2);
  }
  if (!Array.isArray(request.statements)) {
    process.stderr.write('cypher-lint: expected {"statements": [{"name", "text", "parameters"}], ...} on stdin\n');
    process.exit(2);
  }
  const schema = request.schema ?? {};
  const versions = request.versions ?? ['CYPHER 5', 'CYPHER 25'];
  const results = [];
  // Versions outermost: switching the analyser's version is what costs time.
  for (const version of versions) {
    for (const statement of request.statements) {
      results.push({ name: statement.name, version, diagnostics: lintOne(statement, schema, version) });
    }
  }
  process.stdout.write(JSON.stringify({ results }) + '\n');
}

main();
