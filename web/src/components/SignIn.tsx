/** Sign in with an API key. The key is checked against the API before it is kept. */
import { useState } from 'preact/hooks';
import { api, ApiError, type Business } from '../api';
import { saveApiKey } from '../session';

export function SignIn(props: { reason?: string; onSignedIn: (businesses: Business[]) => void }) {
  const [key, setKey] = useState('');
  const [rememberMe, setRememberMe] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  async function submit() {
    const apiKey = key.trim();
    if (!apiKey) {
      setError('Paste your API key.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const businesses = await api.businesses(apiKey);
      saveApiKey(apiKey, rememberMe);
      setKey('');
      props.onSignedIn(businesses);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That API key is not valid (or it was revoked).' : (err as Error).message);
      setBusy(false);
    }
  }

  return (
    <main class="sign-in" id="main">
      <form
        class="card sign-in-card"
        onSubmit={(event) => {
          event.preventDefault();
          void submit();
        }}
        noValidate
      >
        <h1>
          <span class="brand-mark" aria-hidden="true">H</span> Sign in to Herald
        </h1>
        {props.reason && (
          <p class="status-box status-partial" role="status">
            {props.reason}
          </p>
        )}
        <div class="field">
          <label for="api-key">API key</label>
          <input
            id="api-key"
            name="apiKey"
            type="password"
            autoComplete="off"
            spellcheck={false}
            placeholder="hk_…"
            value={key}
            aria-invalid={error ? 'true' : undefined}
            aria-describedby={error ? 'api-key-error api-key-help' : 'api-key-help'}
            onInput={(e) => setKey(e.currentTarget.value)}
          />
          {error && (
            <p class="field-error" id="api-key-error" role="alert">
              {error}
            </p>
          )}
          <p class="muted small" id="api-key-help">
            An operator creates one with <code>npm run admin -- bootstrap --business "…"</code>.
          </p>
        </div>
        <label class="checkbox">
          <input type="checkbox" checked={rememberMe} onChange={(e) => setRememberMe(e.currentTarget.checked)} />
          Keep me signed in on this device
        </label>
        <p class="muted small">Otherwise the key is forgotten when this tab closes.</p>
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Checking…' : 'Sign in'}
          </button>
        </div>
      </form>
    </main>
  );
}
