/** Small hooks: the hash route, live (polled) data, notices. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

/* ---------------------------------------------------------------- routing */

export interface Route {
  /** Path segments after "#/", e.g. ["posts", "42"]. */
  path: string[];
  query: URLSearchParams;
}

function currentRoute(): Route {
  const raw = window.location.hash.replace(/^#\/?/, '');
  const [path = '', query = ''] = raw.split('?');
  return { path: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query) };
}

/** Hash routes (`#/scheduled?view=list`): the API serves one index.html, so the path stays `/`. */
export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}

export function href(path: string, query?: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) params.set(key, value);
  const search = params.toString();
  return `#/${path}${search ? `?${search}` : ''}`;
}

export function navigate(path: string, query?: Record<string, string | undefined>, replace = false): void {
  const target = href(path, query);
  if (replace) window.history.replaceState(null, '', target);
  else window.location.hash = target.slice(1);
  if (replace) window.dispatchEvent(new HashChangeEvent('hashchange'));
}

/* ---------------------------------------------------------------- live data */

export interface Live<T> {
  data?: T;
  error?: Error;
  loading: boolean;
  /** When the data last came from the server. */
  updatedAt?: number;
  refresh(): void;
  /** Patch the data locally (after an action whose answer carries the new state). */
  mutate(update: (current: T | undefined) => T | undefined): void;
}

/**
 * Loads with `load`, then again every `intervalMs` while the page is visible (and at once when it
 * becomes visible again), so changes made elsewhere (another tab, the Temporal CLI) show up without
 * a reload. Answers to an outdated request (deps changed meanwhile, or older than a local `mutate`)
 * are dropped. `intervalMs` may change between renders (e.g. stop once a post is final).
 */
export function useLive<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[], intervalMs: number | false): Live<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean; updatedAt?: number }>({ loading: true });
  const generation = useRef(0);
  /** Bumped by `mutate`: an answer to a request sent before a local change is older than it. */
  const version = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const interval = useRef(intervalMs);
  interval.current = intervalMs;
  const trigger = useRef<() => void>(() => undefined);

  useEffect(() => {
    const mine = ++generation.current;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running = false;
    let again = false;
    setState({ loading: true });

    const run = async () => {
      if (controller.signal.aborted) return;
      if (running) {
        again = true;
        return;
      }
      running = true;
      again = false;
      clearTimeout(timer);
      const versionAtStart = version.current;
      try {
        const data = await loadRef.current(controller.signal);
        if (generation.current !== mine) return;
        if (version.current !== versionAtStart) again = true;
        else setState({ data, error: undefined, loading: false, updatedAt: Date.now() });
      } catch (err) {
        if (generation.current === mine && (err as Error).name !== 'AbortError') setState((s) => ({ ...s, error: err as Error, loading: false }));
      } finally {
        running = false;
        if (again && !controller.signal.aborted) void run();
        else schedule();
      }
    };
    const schedule = () => {
      clearTimeout(timer);
      const every = interval.current;
      if (every !== false && !controller.signal.aborted && document.visibilityState === 'visible') timer = setTimeout(run, every);
    };
    const onVisibility = () => {
      if (document.visibilityState === 'visible') void run();
      else clearTimeout(timer);
    };
    trigger.current = () => void run();
    document.addEventListener('visibilitychange', onVisibility);
    void run();
    return () => {
      controller.abort();
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, deps);

  const refresh = useCallback(() => trigger.current(), []);
  const mutate = useCallback((update: (current: T | undefined) => T | undefined) => {
    version.current += 1;
    setState((s) => ({ ...s, data: update(s.data) }));
  }, []);
  return { ...state, refresh, mutate };
}

/** Re-renders every `ms` (relative times, "updated 5 s ago"). */
export function useNow(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}

/* ---------------------------------------------------------------- notices */

export interface Notice {
  id: number;
  kind: 'success' | 'error' | 'info';
  message: string;
  link?: { href: string; label: string };
}

let nextNoticeId = 1;
let notices: Notice[] = [];
const listeners = new Set<(list: Notice[]) => void>();

function publishNotices(list: Notice[]): void {
  notices = list;
  for (const listener of listeners) listener(notices);
}

export function notify(kind: Notice['kind'], message: string, link?: Notice['link']): void {
  const notice = { id: nextNoticeId++, kind, message, link };
  publishNotices([...notices.slice(-3), notice]);
  // Errors stay until dismissed: a person must be able to read why something was refused.
  if (kind !== 'error') setTimeout(() => dismiss(notice.id), 8000);
}

export function dismiss(id: number): void {
  publishNotices(notices.filter((notice) => notice.id !== id));
}

export function useNotices(): Notice[] {
  const [list, setList] = useState(notices);
  useEffect(() => {
    listeners.add(setList);
    return () => {
      listeners.delete(setList);
    };
  }, []);
  return list;
}
