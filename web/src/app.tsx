/** The shell: sign-in gate, top bar (navigation, business, sign out), health banner, pages, notices. */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, whenSignedOut, type Business } from './api';
import { dismiss, useLive, useNotices, useRoute, type Route } from './hooks';
import { clearApiKey, readApiKey, readSettings, remember, saveSettings } from './session';
import { Accounts, announceConnection } from './components/Accounts';
import { Compose } from './components/Compose';
import { PostDetail } from './components/PostDetail';
import { Scheduled } from './components/Scheduled';
import { Sandbox } from './components/Sandbox';
import { Settings } from './components/Settings';
import { SignIn } from './components/SignIn';

export function App() {
  const [signedIn, setSignedIn] = useState(() => Boolean(readApiKey()));
  const [reason, setReason] = useState<string>();
  const [businesses, setBusinesses] = useState<Business[]>();
  const [loadError, setLoadError] = useState<string>();
  const [attempt, setAttempt] = useState(0);
  const [businessId, setBusinessId] = useState<number | undefined>(() => readSettings().businessId);
  const route = useRoute();

  useEffect(() => {
    if (signedIn) announceConnection();
  }, [signedIn]);

  useEffect(() => {
    whenSignedOut((why) => {
      setSignedIn(false);
      setReason(why);
      setBusinesses(undefined);
    });
  }, []);

  useEffect(() => {
    if (!signedIn || businesses) return;
    setLoadError(undefined);
    api.businesses().then(setBusinesses, (err: unknown) => {
      if (!(err instanceof ApiError && err.status === 401)) setLoadError((err as Error).message);
    });
  }, [signedIn, businesses, attempt]);

  const signOut = () => {
    clearApiKey();
    remember('draft', undefined);
    setSignedIn(false);
    setReason(undefined);
    setBusinesses(undefined);
  };

  if (!signedIn) {
    return (
      <SignIn
        reason={reason}
        onSignedIn={(list) => {
          setBusinesses(list);
          setReason(undefined);
          setSignedIn(true);
        }}
      />
    );
  }

  const business = businesses?.find((b) => b.id === businessId) ?? businesses?.[0];
  const chooseBusiness = (id: number) => {
    setBusinessId(id);
    saveSettings({ ...readSettings(), businessId: id });
  };

  return (
    <>
      <a class="skip-link" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href="#/compose">
          <span class="brand-mark" aria-hidden="true">H</span>
          <span class="brand-name">Herald</span>
        </a>
        <nav class="main-nav" aria-label="Main">
          <NavLink route={route} to="compose" label="Compose" />
          <NavLink route={route} to="scheduled" label="Scheduled" />
          <NavLink route={route} to="accounts" label="Accounts" />
          <NavLink route={route} to="settings" label="Settings" />
        </nav>
        <div class="topbar-right">
          {businesses && businesses.length > 0 && (
            <div class="business-select">
              <label for="business">Business</label>
              <select id="business" value={business?.id} onChange={(e) => chooseBusiness(Number(e.currentTarget.value))}>
                {businesses.map((b) => (
                  <option key={b.id} value={b.id}>
                    {b.name}
                  </option>
                ))}
              </select>
            </div>
          )}
          <button type="button" class="secondary small-button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <HealthBanner />
      <main id="main" tabIndex={-1}>
        {loadError ? (
          <div class="status-box status-error" role="alert">
            <p>Could not load your businesses: {loadError}</p>
            <button type="button" class="secondary" onClick={() => setAttempt((n) => n + 1)}>
              Try again
            </button>
          </div>
        ) : !businesses ? (
          <p class="muted">Loading…</p>
        ) : !business ? (
          <div class="card empty-state">
            <h1>No business yet</h1>
            <p>This API key’s user is not a member of any business.</p>
          </div>
        ) : (
          <Page route={route} business={business} businesses={businesses} onSignOut={signOut} />
        )}
      </main>
      <Notices />
    </>
  );
}

const TITLES: Record<string, string> = { compose: 'Compose', scheduled: 'Scheduled', posts: 'Post', accounts: 'Accounts', settings: 'Settings', sandbox: 'Sandbox' };

function Page(props: { route: Route; business: Business; businesses: Business[]; onSignOut: () => void }) {
  const [page, id] = props.route.path;
  const title = TITLES[page ?? 'compose'];
  useEffect(() => {
    document.title = title ? `${title}${page === 'posts' && id ? ` ${id}` : ''} · Herald` : 'Herald';
  }, [title, id]);
  switch (page ?? 'compose') {
    case 'compose':
      return <Compose key={props.business.id} business={props.business} />;
    case 'scheduled':
      return <Scheduled business={props.business} route={props.route} />;
    case 'posts':
      return Number(id) > 0 ? <PostDetail postId={Number(id)} businesses={props.businesses} /> : <NotFound />;
    case 'accounts':
      return <Accounts business={props.business} />;
    case 'settings':
      return <Settings onSignOut={props.onSignOut} />;
    case 'sandbox':
      return <Sandbox business={props.business} />;
    default:
      return <NotFound />;
  }
}

function NotFound() {
  return (
    <div class="card empty-state">
      <h1>Nothing here</h1>
      <a href="#/compose">Go to Compose</a>
    </div>
  );
}

function NavLink(props: { route: Route; to: string; label: string }) {
  const current = (props.route.path[0] ?? 'compose') === props.to || (props.to === 'scheduled' && props.route.path[0] === 'posts');
  return (
    <a href={`#/${props.to}`} aria-current={current ? 'page' : undefined}>
      {props.label}
    </a>
  );
}

/**
 * Says so when Herald cannot do its job (no worker: scheduled posts would wait), and, in sandbox
 * mode, that the platforms are local fakes — a person trying Herald must never think a post went out.
 */
function HealthBanner() {
  const health = useLive(() => api.health(), [], 30_000);
  const data = health.data;
  const sandbox = data?.sandbox ? (
    <div class="sandbox-banner" role="note" data-testid="sandbox-banner">
      <strong>Sandbox.</strong> X, LinkedIn, Facebook and Instagram are local fakes here: nothing is sent to the real platforms.{' '}
      <a href="#/sandbox">See what they received</a>
    </div>
  ) : null;
  if (!data || data.status === 'ok') return sandbox;
  const failing = Object.entries(data.checks ?? {}).filter(([, value]) => value !== 'ok');
  return (
    <>
    {sandbox}
    <div class="health-banner" role="status">
      <strong>Herald is not fully working.</strong> {failing.map(([name, value]) => `${name}: ${value}`).join(' · ')}
      {failing.some(([name]) => name === 'worker') && ' — scheduled posts wait until a worker runs.'}
    </div>
    </>
  );
}

function Notices() {
  const notices = useNotices();
  return (
    <div class="notices" aria-live="polite" data-testid="notices">
      {notices.map((notice) => (
        <div key={notice.id} class={`notice notice-${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'} data-kind={notice.kind}>
          <p>
            {notice.message}
            {notice.link && (
              <>
                {' '}
                <a href={notice.link.href} onClick={() => dismiss(notice.id)}>
                  {notice.link.label}
                </a>
              </>
            )}
          </p>
          <button type="button" class="icon-button" aria-label="Dismiss" onClick={() => dismiss(notice.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
