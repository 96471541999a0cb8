/**
 * Settings → API keys: the signed-in user's keys (name, prefix, created, last used, expiry, status),
 * a form to create one with a name and an expiry, revoke and rotate (each after confirming). A new
 * key is shown once, in a dialog; only its prefix is shown afterwards. Rotating or revoking the key
 * this dashboard is signed in with says so first; after rotating it, the dashboard switches to the
 * new key itself.
 */
import { useState } from 'preact/hooks';
import { api, ApiError, type ApiKeyInfo, type CreatedApiKey } from '../api';
import { formatDateTime, relativeTime } from '../format';
import { notify, useLive, useNow } from '../hooks';
import { rememberedOnDevice, saveApiKey } from '../session';
import { Modal } from './Modal';

const EXPIRY_CHOICES = [
  { value: 'never', label: 'Never' },
  { value: '30', label: 'In 30 days' },
  { value: '90', label: 'In 90 days' },
  { value: '365', label: 'In 1 year' },
  { value: 'date', label: 'On a date…' },
] as const;
type ExpiryChoice = (typeof EXPIRY_CHOICES)[number]['value'];

const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

/** The chosen expiry as an ISO time, null for never; a date means the end of that day in the browser's zone. */
function expiryOf(choice: ExpiryChoice, date: string): string | null | { problem: string } {
  if (choice === 'never') return null;
  if (choice === 'date') {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return { problem: 'Choose a date.' };
    const [year, month, day] = date.split('-').map(Number) as [number, number, number];
    return new Date(year, month - 1, day, 23, 59, 59).toISOString();
  }
  return new Date(Date.now() + Number(choice) * 86_400_000).toISOString();
}

const STATUS_LABEL: Record<ApiKeyInfo['status'], string> = { active: 'Active', expired: 'Expired', revoked: 'Revoked' };
const STATUS_BADGE: Record<ApiKeyInfo['status'], string> = { active: 'badge-published', expired: 'badge-partially_published', revoked: 'badge-cancelled' };

export function ApiKeys(props: { onSignOut: () => void }) {
  const keys = useLive((signal) => api.keys(signal), [], 60_000);
  const now = useNow(30_000);
  const zone = browserZone();
  const [name, setName] = useState('');
  const [choice, setChoice] = useState<ExpiryChoice>('90');
  const [date, setDate] = useState('');
  const [problems, setProblems] = useState<{ name?: string; expiresAt?: string; form?: string }>({});
  const [busy, setBusy] = useState(false);
  const [shown, setShown] = useState<{ created: CreatedApiKey; verb: 'created' | 'rotated' }>();
  const [confirm, setConfirm] = useState<{ action: 'revoke' | 'rotate'; key: ApiKeyInfo }>();

  const create = async () => {
    const expiresAt = expiryOf(choice, date);
    const local: typeof problems = {};
    if (!name.trim()) local.name = 'Give the key a name, e.g. "CI" or "laptop".';
    if (expiresAt !== null && typeof expiresAt === 'object') local.expiresAt = expiresAt.problem;
    setProblems(local);
    if (local.name || local.expiresAt) return;
    setBusy(true);
    try {
      const created = await api.createKey(name.trim(), expiresAt as string | null);
      setName('');
      setShown({ created, verb: 'created' });
      keys.refresh();
    } catch (err) {
      if (err instanceof ApiError && err.status === 400 && err.details.length > 0) {
        const byField: typeof problems = {};
        for (const detail of err.details) {
          if (detail.path === 'name') byField.name = `Name ${detail.message}.`;
          else if (detail.path === 'expiresAt') byField.expiresAt = `Expiry ${detail.message}.`;
          else byField.form = err.message;
        }
        setProblems(byField);
      } else {
        setProblems({ form: (err as Error).message });
      }
    } finally {
      setBusy(false);
    }
  };

  const act = async (action: 'revoke' | 'rotate', key: ApiKeyInfo) => {
    setConfirm(undefined);
    try {
      if (action === 'revoke') {
        await api.revokeKey(key.id);
        if (key.current) {
          notify('info', `Key "${key.name}" revoked: this dashboard was signed in with it.`);
          props.onSignOut();
          return;
        }
        notify('success', `Key "${key.name}" revoked. Requests with it are refused from now on.`);
      } else {
        const created = await api.rotateKey(key.id);
        // The dashboard's own key was just revoked: carry on with its successor.
        if (key.current) saveApiKey(created.apiKey, rememberedOnDevice());
        setShown({ created, verb: 'rotated' });
      }
      keys.refresh();
    } catch (err) {
      notify('error', `Could not ${action} "${key.name}": ${(err as Error).message}`);
    }
  };

  const list = keys.data ?? [];
  return (
    <section class="card" aria-labelledby="api-keys-title" data-testid="api-keys">
      <h2 id="api-keys-title">API keys</h2>
      <p class="muted small">Keys of your user: each one opens the API and this dashboard for every business you belong to. A key is shown once, when it is created or rotated; Herald keeps only a hash.</p>
      <form
        class="key-create"
        onSubmit={(event) => {
          event.preventDefault();
          void create();
        }}
        noValidate
      >
        <div class="field-row">
          <div class="field">
            <label for="key-name">Name</label>
            <input id="key-name" type="text" maxLength={100} value={name} aria-invalid={problems.name ? 'true' : undefined} aria-describedby="key-name-error" onInput={(e) => setName(e.currentTarget.value)} />
            {problems.name && (
              <p class="field-error" id="key-name-error" role="alert">
                {problems.name}
              </p>
            )}
          </div>
          <div class="field">
            <label for="key-expiry">Expires</label>
            <select id="key-expiry" value={choice} onChange={(e) => setChoice(e.currentTarget.value as ExpiryChoice)}>
              {EXPIRY_CHOICES.map((option) => (
                <option key={option.value} value={option.value}>
                  {option.label}
                </option>
              ))}
            </select>
            {choice === 'date' && (
              <>
                <label for="key-expiry-date" class="visually-hidden">
                  Expiry date
                </label>
                <input id="key-expiry-date" type="date" value={date} aria-invalid={problems.expiresAt ? 'true' : undefined} aria-describedby="key-expiry-error" onInput={(e) => setDate(e.currentTarget.value)} />
              </>
            )}
            {problems.expiresAt && (
              <p class="field-error" id="key-expiry-error" role="alert">
                {problems.expiresAt}
              </p>
            )}
          </div>
        </div>
        {problems.form && (
          <p class="field-error" role="alert">
            {problems.form}
          </p>
        )}
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create key'}
          </button>
        </div>
      </form>

      {keys.error ? (
        <p class="status-box status-error" role="alert">
          {keys.error.message}
        </p>
      ) : !keys.data ? (
        <p class="muted">Loading…</p>
      ) : (
        <ul class="key-list" data-testid="key-list">
          {list.map((key) => (
            <li key={key.id} class={`key-item key-${key.status}`} data-testid="key-item" data-key-id={key.id}>
              <div class="key-name">
                <span class="key-title">
                  <strong>{key.name}</strong>
                  <span class={`badge ${STATUS_BADGE[key.status]}`}>{STATUS_LABEL[key.status]}</span>
                  {key.current && <span class="badge badge-scheduled">This session</span>}
                </span>
                <span class="muted small">
                  <code>{key.prefix}…</code> · created {formatDateTime(key.createdAt, zone)}
                </span>
                <span class="muted small">
                  {key.lastUsedAt ? <>last used {relativeTime(key.lastUsedAt, now)}</> : 'never used'}
                  {' · '}
                  {key.revokedAt
                    ? <>revoked {formatDateTime(key.revokedAt, zone)}</>
                    : key.expiresAt
                      ? <>{key.status === 'expired' ? 'expired' : 'expires'} {formatDateTime(key.expiresAt, zone)}</>
                      : 'does not expire'}
                </span>
              </div>
              {key.status !== 'revoked' && (
                <div class="key-actions">
                  <button type="button" class="secondary small-button" onClick={() => setConfirm({ action: 'rotate', key })}>
                    Rotate
                  </button>
                  <button type="button" class="danger-outline small-button" onClick={() => setConfirm({ action: 'revoke', key })}>
                    Revoke
                  </button>
                </div>
              )}
            </li>
          ))}
        </ul>
      )}

      {confirm && (
        <Modal title={`${confirm.action === 'revoke' ? 'Revoke' : 'Rotate'} "${confirm.key.name}"?`} onClose={() => setConfirm(undefined)} size="small" initialFocus="[data-autofocus]">
          <p>
            {confirm.action === 'revoke'
              ? 'Every request with this key is refused from now on, on every Herald instance. This cannot be undone.'
              : 'A new key with the same name replaces it, and this key is refused from now on. Whatever uses it must get the new key.'}
          </p>
          {confirm.key.current && (
            <p class="warning-text">
              {confirm.action === 'revoke' ? 'This dashboard is signed in with this key: you will be signed out.' : 'This dashboard is signed in with this key: it switches to the new one.'}
            </p>
          )}
          <div class="actions">
            <button type="button" class={confirm.action === 'revoke' ? 'danger' : 'primary'} onClick={() => void act(confirm.action, confirm.key)}>
              {confirm.action === 'revoke' ? 'Revoke' : 'Rotate'}
            </button>
            <button type="button" class="secondary" data-autofocus onClick={() => setConfirm(undefined)}>
              Keep it
            </button>
          </div>
        </Modal>
      )}

      {shown && <NewKey created={shown.created} verb={shown.verb} onClose={() => setShown(undefined)} />}
    </section>
  );
}

/** The only time a key is shown. */
function NewKey(props: { created: CreatedApiKey; verb: 'created' | 'rotated'; onClose: () => void }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.created.apiKey);
      setCopied(true);
    } catch {
      notify('error', 'Could not copy: select the key and copy it by hand.');
    }
  };
  return (
    <Modal title={`Key "${props.created.key.name}" ${props.verb}`} onClose={props.onClose} size="small" testId="new-key" initialFocus="#new-key-value">
      <p>Copy it now: this is the only time it is shown. Herald keeps only a hash.</p>
      <div class="field">
        <label for="new-key-value">API key</label>
        <input id="new-key-value" type="text" readOnly value={props.created.apiKey} onFocus={(e) => e.currentTarget.select()} data-testid="new-key-value" />
      </div>
      <div class="actions">
        <button type="button" class="secondary" onClick={() => void copy()}>
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" class="primary" onClick={props.onClose}>
          I have stored it
        </button>
      </div>
    </Modal>
  );
}
