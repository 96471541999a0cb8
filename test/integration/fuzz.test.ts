/**
 * A fuzzer no one here wrote: schemathesis (PyPI, installed into .tools/venv by scripts/setup.sh)
 * reads the generated OpenAPI document of a whole running Herald (real Temporal, Postgres, Redis,
 * a worker, the platform fakes) and sends every documented operation schema-valid and
 * schema-invalid requests, then checks each answer against the document. Any failure fails the test,
 * with schemathesis's own report (and its `st replay` / curl lines) in the output.
 *
 * Two runs share the checks and the seed: one for every operation but the API-key routes, one for
 * the API-key routes with a key of their own. The split is only about the key: the fuzzer lists the
 * key's own user's keys and revokes or rotates them (as it should be able to), and the rest of a
 * single run would then only see 401s. Together the runs cover every operation in the document.
 *
 * Checks: see FUZZ_CHECKS. positive_data_acceptance is not among them: the contract refuses
 * schema-valid requests on rules no JSON Schema can state (a time more than 60 s in the past, a
 * platform with no connected account, a text that makes more than 25 parts or repeats a part),
 * so it would flag the contract itself. Every other check schemathesis has is on.
 * Reproduce a run by hand: docs/TESTING.md "The fuzzer".
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHarness, type Harness, type Tenant } from '../support/harness';

jest.setTimeout(360_000);

const SCHEMATHESIS = resolve(__dirname, '..', '..', '.tools', 'venv', 'bin', 'schemathesis');
export const FUZZ_CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_schema_conformance',
  'response_headers_conformance',
  'negative_data_rejection',
  'missing_required_header',
  'unsupported_method',
  'allow_header_conformance',
  'ignored_auth',
  'use_after_free',
  'ensure_resource_availability',
];
const SEED = process.env.HERALD_FUZZ_SEED ?? '20261201';
const MAX_EXAMPLES = process.env.HERALD_FUZZ_MAX_EXAMPLES ?? '15';
const KEY_ROUTES = '^/api/v2/keys';

let h: Harness;
let tenant: Tenant;
let keyTenant: Tenant;

beforeAll(async () => {
  if (!existsSync(SCHEMATHESIS)) throw new Error(`${SCHEMATHESIS} is missing: run bash scripts/setup.sh`);
  h = await createHarness();
  tenant = await h.tenant({ linkedin: true, facebook: true, instagram: true });
  keyTenant = await h.tenant({ name: 'Fuzzed key routes' });
});
afterAll(async () => h?.close());

interface FuzzRun {
  code: number | null;
  output: string;
  ms: number;
}

function schemathesis(apiKey: string, filter: string[]): Promise<FuzzRun> {
  const args = [
    'run', `${h.app.url}/api/v2/openapi.json`,
    '-H', `Authorization: Bearer ${apiKey}`,
    '--checks', FUZZ_CHECKS.join(','),
    '--max-examples', MAX_EXAMPLES,
    '--seed', SEED,
    // One worker: with two, Python 3.11's ast module (used by hypothesis to describe filters) is not
    // thread-safe and a run can stop with "AST constructor recursion depth mismatch" (CPython gh-106905).
    '--workers', '1',
    // POST /publish waits up to ?wait=30 s for the outcome.
    '--request-timeout', '45',
    '--generation-database', 'none',
    '--no-color',
    ...filter,
  ];
  const started = Date.now();
  return new Promise((resolveRun, rejectRun) => {
    // Its own working directory: schemathesis keeps a cache (.schemathesis/) where it runs.
    const cwd = mkdtempSync(join(tmpdir(), 'herald-fuzz-'));
    const child = spawn(SCHEMATHESIS, args, { cwd, env: { ...process.env, NO_COLOR: '1', COLUMNS: '120' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    // 24 operations (the media routes among them): 77 s on a quiet 2-core machine, more than 170 s at a load of 7.
    const timer = setTimeout(() => child.kill('SIGTERM'), 240_000);
    child.once('error', rejectRun);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, output, ms: Date.now() - started });
    });
  });
}

/** The summary (and, on failure, the whole report) goes to the test output; jest's console would bury it. */
function report(name: string, run: FuzzRun): void {
  const summary = run.output.slice(Math.max(0, run.output.indexOf('=== SUMMARY ===') - 40));
  process.stdout.write(`\n--- schemathesis: ${name} (exit ${run.code}, ${(run.ms / 1000).toFixed(1)} s)\n${run.code === 0 ? summary : run.output}\n`);
}

/** `Selected: 12/16` from each run: together they must have tested every operation of the document. */
const selected: number[] = [];
let total = 0;
function countSelected(run: FuzzRun): void {
  const match = /Selected: (\d+)\/(\d+)/.exec(run.output);
  expect(match).not.toBeNull();
  selected.push(Number(match![1]));
  total = Number(match![2]);
  expect(run.output).toMatch(new RegExp(`Tested: ${match![1]}\\b`));
}

test('when schemathesis fuzzes every documented operation but the API-key routes, then no check fails', async () => {
  const run = await schemathesis(tenant.apiKey, ['--exclude-path-regex', KEY_ROUTES]);
  report('operations', run);
  countSelected(run);
  expect(run.code).toBe(0);
});

test('when schemathesis fuzzes the API-key routes with a key of their own, then no check fails', async () => {
  const run = await schemathesis(keyTenant.apiKey, ['--include-path-regex', KEY_ROUTES]);
  report('API-key routes', run);
  countSelected(run);
  expect(run.code).toBe(0);
});

test('when both runs are put together, then every operation of the document was fuzzed', () => {
  expect(selected).toHaveLength(2);
  expect(selected[0]! + selected[1]!).toBe(total);
});
