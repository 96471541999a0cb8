/**
 * Accounts: the business's connected social accounts, "Connect" buttons that go through each
 * provider's consent page (the API's OAuth flow), and disconnect. The API key never leaves the
 * Authorization header: the start call answers the provider's address, and the browser goes there.
 * That start call is a same-origin fetch, so the browser keeps the HttpOnly cookie it sets (the
 * flow's secret): the API's callback accepts only the browser that presents it.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type Account, type Business } from '../api';
import { formatDateTime } from '../format';
import { notify, useLive } from '../hooks';
import { PLATFORM_META, PLATFORMS, type Platform } from '../platforms';
import { PlatformMark } from './Badges';
import { Modal } from './Modal';

const CONNECT_LABEL: Record<Platform, string> = {
  twitter: 'Connect X',
  linkedin: 'Connect LinkedIn',
  facebook: 'Connect a Facebook Page',
  instagram: 'Connect Instagram',
};

/** After the provider's consent page the API sends the browser back with `?connected=<platform>&accounts=<n>`. */
export function announceConnection(): void {
  const params = new URLSearchParams(window.location.search);
  const platform = params.get('connected') as Platform | null;
  if (!platform || !(platform in PLATFORM_META)) return;
  const count = Number(params.get('accounts') ?? '1');
  notify('success', `${PLATFORM_META[platform].label}: ${count === 1 ? 'account connected' : `${count} accounts connected`}.`);
  window.history.replaceState(null, '', `${window.location.pathname}#/accounts`);
  // replaceState fires no hashchange: tell the router.
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

export function Accounts(props: { business: Business }) {
  const accounts = useLive((signal) => api.accounts(props.business.id, signal), [props.business.id], 30_000);
  const [starting, setStarting] = useState<Platform>();
  const [startError, setStartError] = useState<string>();
  const [disconnecting, setDisconnecting] = useState<Account>();

  useEffect(() => setStartError(undefined), [props.business.id]);

  const connect = async (platform: Platform) => {
    setStarting(platform);
    setStartError(undefined);
    try {
      const url = await api.oauthStart(platform, props.business.id);
      window.location.assign(url);
    } catch (err) {
      setStarting(undefined);
      setStartError(err instanceof ApiError ? `${PLATFORM_META[platform].label}: ${err.message}` : (err as Error).message);
    }
  };

  const active = (accounts.data ?? []).filter((account) => account.isActive);
  return (
    <div class="accounts">
      <h1>Accounts</h1>
      <section class="card" aria-labelledby="connect-title">
        <h2 id="connect-title">Connect an account to {props.business.name}</h2>
        <p class="muted small">You sign in on the platform's own page and choose what Herald may do; Herald keeps the tokens encrypted and never shows them.</p>
        <div class="actions connect-buttons">
          {PLATFORMS.map((platform) => (
            <button key={platform} type="button" class="secondary" disabled={starting !== undefined} onClick={() => void connect(platform)} data-testid={`connect-${platform}`}>
              <PlatformMark platform={platform} small /> {starting === platform ? 'Opening…' : CONNECT_LABEL[platform]}
            </button>
          ))}
        </div>
        {startError && (
          <p class="field-error" role="alert">
            {startError}
          </p>
        )}
      </section>
      <section class="card" aria-labelledby="connected-title">
        <h2 id="connected-title">Connected</h2>
        {accounts.error ? (
          <p class="status-box status-error" role="alert">
            {accounts.error.message}
          </p>
        ) : !accounts.data ? (
          <p class="muted">Loading…</p>
        ) : active.length === 0 ? (
          <p class="empty-state">No account is connected yet.</p>
        ) : (
          <ul class="account-list" data-testid="account-list">
            {active.map((account) => (
              <li key={account.id} class="account-item">
                <PlatformMark platform={account.platform} />
                <div class="account-name">
                  <strong>{account.displayName ?? account.platformUserId}</strong>
                  <span class="muted small">
                    {PLATFORM_META[account.platform].label} · {account.platformUserId}
                    {account.expiresAt && <> · token valid until {formatDateTime(account.expiresAt, props.business.timezone)}</>}
                  </span>
                  {account.needsReconnect && (
                    <span class="badge badge-failed" data-testid="needs-reconnect">
                      Needs reconnecting: the platform refused to renew access
                    </span>
                  )}
                </div>
                <button type="button" class="secondary small-button" onClick={() => setDisconnecting(account)}>
                  Disconnect
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
      {disconnecting && (
        <Modal title={`Disconnect ${disconnecting.displayName ?? disconnecting.platformUserId}?`} onClose={() => setDisconnecting(undefined)} size="small" initialFocus="[data-autofocus]">
          <p>Posts waiting to go to this {PLATFORM_META[disconnecting.platform].label} account will fail with a reason, unless another account of that platform is connected first.</p>
          <div class="actions">
            <button
              type="button"
              class="danger"
              onClick={async () => {
                const account = disconnecting;
                setDisconnecting(undefined);
                try {
                  await api.disconnect(account.id);
                  accounts.refresh();
                  notify('success', `${account.displayName ?? account.platformUserId} disconnected.`);
                } catch (err) {
                  notify('error', `Could not disconnect: ${(err as Error).message}`);
                }
              }}
            >
              Disconnect
            </button>
            <button type="button" class="secondary" data-autofocus onClick={() => setDisconnecting(undefined)}>
              Keep it
            </button>
          </div>
        </Modal>
      )}
    </div>
  );
}
