/**
 * .env.example and docker-compose.yml keep up with src/config.ts: the variable list comes from the
 * config schema itself, so a new variable that is not documented, or not given to the services
 * that need it, fails here.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { configVariables, developmentOnlyVariables, type ConfigVariable } from '../../src/config';

const root = resolve(__dirname, '..', '..');
const envExampleText = readFileSync(resolve(root, '.env.example'), 'utf8');
const composeText = readFileSync(resolve(root, 'docker-compose.yml'), 'utf8');

interface EnvEntry {
  name: string;
  /** `NAME=value` (set) rather than `# NAME=value` (documented, default applies). */
  active: boolean;
  value: string;
  /** The comment line right above it, which says what the variable does. */
  description: string | undefined;
}

/** Reads `NAME=value` and `# NAME=value` lines; other comment lines are descriptions. */
function parseEnvExample(text: string): Map<string, EnvEntry> {
  const entries = new Map<string, EnvEntry>();
  let previousComment: string | undefined;
  for (const line of text.split('\n')) {
    const variable = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (variable) {
      const [, commented, name, value] = variable;
      entries.set(name!, { name: name!, active: !commented, value: value!, description: previousComment });
      previousComment = undefined;
    } else {
      previousComment = line.startsWith('#') && !/^#\s*-+$/.test(line) ? line.replace(/^#\s*/, '') : undefined;
    }
  }
  return entries;
}

interface ComposeService {
  environment?: Record<string, unknown> | string[];
  env_file?: string | string[];
  healthcheck?: { test?: string | string[] };
}

/**
 * YAML through Python's PyYAML (a dependency of the docker-compose that scripts/setup.sh
 * installs): it resolves the anchors and merge keys the compose file uses.
 */
function loadCompose(): { services: Record<string, ComposeService> } {
  const json = execFileSync('python3', ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: composeText });
  return JSON.parse(json.toString()) as { services: Record<string, ComposeService> };
}

function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) return Object.fromEntries(env.map((item) => item.split(/=(.*)/s).slice(0, 2) as [string, string]));
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value)]));
}

/** `${HERALD_ENV_FILE:-.env}` → `.env`: the file an operator gets without overriding anything. */
function envFilesOf(service: ComposeService): string[] {
  const files = service.env_file === undefined ? [] : Array.isArray(service.env_file) ? service.env_file : [service.env_file];
  return files.map((file) => /^\$\{\w+:-(.+)\}$/.exec(file)?.[1] ?? file);
}

/** Variables the compose file substitutes (`${NAME}`, `${NAME:-default}`, `${NAME:?message}`); `$${…}` is an escaped shell variable. */
function composeSubstitutions(text: string): Set<string> {
  return new Set([...text.matchAll(/(?<!\$)\$\{([A-Z][A-Z0-9_]*)/g)].map((match) => match[1]!));
}

/** Variables whose values are secrets (not `DEV_SECRETS_FILE`, which is a path). */
const SECRET_NAME = /PASSWORD|API_KEY|ENCRYPTION_KEYS/;

const envExample = parseEnvExample(envExampleText);
const compose = loadCompose();
const herald = new Set<string>(configVariables);
const neededByServices = configVariables.filter((name) => !(developmentOnlyVariables as readonly ConfigVariable[]).includes(name));

describe('.env.example', () => {
  it('when the config schema reads a variable, then .env.example lists it', () => {
    const missing = configVariables.filter((name) => !envExample.has(name));
    expect(missing).toEqual([]);
  });

  it('when a variable is listed, then a comment right above it says what it does', () => {
    const undocumented = [...envExample.values()].filter((entry) => !entry.description || entry.description.length < 10).map((entry) => entry.name);
    expect(undocumented).toEqual([]);
  });

  it('when a variable is listed, then Herald reads it or docker-compose.yml substitutes it (nothing stale)', () => {
    const substituted = composeSubstitutions(composeText);
    const unknown = [...envExample.keys()].filter((name) => !herald.has(name) && !substituted.has(name));
    expect(unknown).toEqual([]);
  });

  it('when docker-compose.yml substitutes a variable, then .env.example lists it or the file gives a default', () => {
    const withoutDefault = [...composeText.matchAll(/(?<!\$)\$\{([A-Z][A-Z0-9_]*)(:?[-?][^}]*)?\}/g)]
      .filter((match) => !match[2]?.replace(':', '').startsWith('-'))
      .map((match) => match[1]!);
    expect(withoutDefault.filter((name) => !envExample.has(name))).toEqual([]);
  });

  it('when a secret is listed, then its example value is empty or an obvious placeholder', () => {
    const secrets = [...envExample.values()].filter((entry) => SECRET_NAME.test(entry.name));
    expect(secrets.map((entry) => entry.name)).toEqual(expect.arrayContaining(['TEMPORAL_API_KEY', 'TOKEN_ENCRYPTION_KEYS', 'HERALD_DB_PASSWORD']));
    const realLooking = secrets.filter((entry) => entry.value !== '' && !/^replace-/.test(entry.value));
    expect(realLooking.map((entry) => entry.name)).toEqual([]);
  });
});

describe.each(['api', 'worker'])('docker-compose.yml service %s', (name) => {
  const service = compose.services[name]!;
  const environment = environmentOf(service);

  it('when Herald reads a variable a deployed service needs, then the service gets it from environment or its env_file', () => {
    const envFiles = envFilesOf(service);
    expect(envFiles).toEqual(['.env']);
    // The operator's .env is a copy of .env.example: what the example lists, the env_file carries.
    const carried = (variable: string) => variable in environment || envExample.has(variable);
    expect(neededByServices.filter((variable) => !carried(variable))).toEqual([]);
  });

  it('when the service sets a variable itself, then it is one Herald reads (no typos)', () => {
    expect(Object.keys(environment).filter((variable) => !herald.has(variable))).toEqual([]);
  });

  it('when a value carries a secret, then it is substituted from .env, never written in the file', () => {
    for (const [variable, value] of Object.entries(environment)) {
      if (SECRET_NAME.test(variable)) expect(value).toMatch(/^\$\{[A-Z_]+[^}]*\}$/);
    }
    const databaseUrl = new URL(environment.DATABASE_URL!.replace(/\$\{[^}]+\}/g, 'PLACEHOLDER'));
    expect(databaseUrl.password === '' || databaseUrl.password === 'PLACEHOLDER').toBe(true);
  });

  it('when it runs in the stack, then it runs in production mode against the stack Temporal, and has a healthcheck', () => {
    expect(environment.NODE_ENV).toBe('production');
    expect(environment.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(service.healthcheck?.test).toBeDefined();
  });
});

describe('docker-compose.yml worker healthcheck', () => {
  it('when Docker checks the worker, then it asks /readyz on WORKER_HEALTH_PORT', () => {
    const worker = compose.services.worker!;
    const test = [worker.healthcheck?.test ?? []].flat().join(' ');
    expect(environmentOf(worker).WORKER_HEALTH_PORT).toBeDefined();
    expect(test).toContain('WORKER_HEALTH_PORT');
    expect(test).toContain('/readyz');
  });
});

describe('docker-compose.yml Temporal Web UI', () => {
  it('when the stack runs with the defaults, then the Web UI listens on loopback only and is read-only', () => {
    const ui = compose.services['temporal-ui'] as ComposeService & { ports?: string[] };
    const ports = (ui.ports ?? []).map((port) => String(port).replace(/\$\{TEMPORAL_UI_BIND:-([^}]+)\}/, '$1'));
    expect(ports).toEqual(['127.0.0.1:8233:8080']);
    expect(environmentOf(ui).TEMPORAL_DISABLE_WRITE_ACTIONS).toBe('${TEMPORAL_UI_DISABLE_WRITE_ACTIONS:-true}');
  });

  it('when any service publishes a port, then only the API does so on every interface', () => {
    const published = Object.entries(compose.services as Record<string, ComposeService & { ports?: string[] }>)
      .flatMap(([name, service]) => (service.ports ?? []).map((port) => ({ name, port: String(port) })))
      .filter(({ port }) => !/^(\$\{[A-Z_]+:-)?127\.0\.0\.1/.test(port));
    expect(published.map(({ name }) => name)).toEqual(['api']);
  });
});
