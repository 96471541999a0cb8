/**
 * Where the dashboard keeps its few bits of state between page loads. The API key lives in
 * sessionStorage (gone when the tab closes) unless the person asks to stay signed in on this device
 * (localStorage). It only ever travels in the Authorization header.
 */
const KEY = 'herald.apiKey';
const SETTINGS = 'herald.settings';

function storage(kind: 'session' | 'local'): Storage | undefined {
  try {
    return kind === 'session' ? window.sessionStorage : window.localStorage;
  } catch {
    return undefined; // storage disabled (privacy mode): the key then lives only in memory
  }
}

let memoryKey: string | undefined;

export function readApiKey(): string | undefined {
  return memoryKey ?? storage('session')?.getItem(KEY) ?? storage('local')?.getItem(KEY) ?? undefined;
}

export function saveApiKey(apiKey: string, remember: boolean): void {
  clearApiKey();
  memoryKey = apiKey;
  (remember ? storage('local') : storage('session'))?.setItem(KEY, apiKey);
}

/** Whether the key is kept on this device (localStorage) rather than for this tab only. */
export function rememberedOnDevice(): boolean {
  return Boolean(storage('local')?.getItem(KEY));
}

export function clearApiKey(): void {
  memoryKey = undefined;
  storage('session')?.removeItem(KEY);
  storage('local')?.removeItem(KEY);
}

export interface Settings {
  /** Base of the Temporal Web UI, without a trailing slash. */
  temporalUiBase: string;
  temporalNamespace: string;
  /** The business last worked on. */
  businessId?: number;
}

export const DEFAULT_SETTINGS: Settings = { temporalUiBase: 'http://localhost:8233', temporalNamespace: 'default' };

export function readSettings(): Settings {
  try {
    const saved = JSON.parse(storage('local')?.getItem(SETTINGS) ?? '{}') as Partial<Settings>;
    return { ...DEFAULT_SETTINGS, ...saved };
  } catch {
    return { ...DEFAULT_SETTINGS };
  }
}

export function saveSettings(settings: Settings): void {
  storage('local')?.setItem(SETTINGS, JSON.stringify(settings));
}

/** Small per-browser memories (compose draft, last platforms); failures are harmless. */
export function remember(key: string, value: unknown): void {
  try {
    if (value === undefined) storage('local')?.removeItem(`herald.${key}`);
    else storage('local')?.setItem(`herald.${key}`, JSON.stringify(value));
  } catch {
    // full or disabled storage: nothing to do
  }
}

export function recall<T>(key: string): T | undefined {
  try {
    const raw = storage('local')?.getItem(`herald.${key}`);
    return raw ? (JSON.parse(raw) as T) : undefined;
  } catch {
    return undefined;
  }
}

export function workflowUrl(settings: Settings, workflowId: string): string {
  const base = settings.temporalUiBase.replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(settings.temporalNamespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
