/** Settings: the user's API keys (on the server), and what this browser keeps: where the Temporal Web UI lives, the session. */
import { useState } from 'preact/hooks';
import { notify } from '../hooks';
import { DEFAULT_SETTINGS, readSettings, saveSettings, workflowUrl } from '../session';
import { ApiKeys } from './ApiKeys';

export function Settings(props: { onSignOut: () => void }) {
  const [settings, setSettings] = useState(readSettings);
  const [error, setError] = useState<string>();

  const save = () => {
    try {
      const url = new URL(settings.temporalUiBase);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
    } catch {
      setError('Enter a full http(s) address, e.g. http://localhost:8233');
      return;
    }
    setError(undefined);
    const next = { ...readSettings(), temporalUiBase: settings.temporalUiBase.trim().replace(/\/+$/, ''), temporalNamespace: settings.temporalNamespace.trim() || 'default' };
    saveSettings(next);
    setSettings(next);
    notify('success', 'Settings saved.');
  };

  return (
    <div class="settings">
      <h1>Settings</h1>
      <ApiKeys onSignOut={props.onSignOut} />
      <form
        class="card"
        onSubmit={(event) => {
          event.preventDefault();
          save();
        }}
        noValidate
      >
        <h2>Temporal Web UI</h2>
        <p class="muted small">Each post is a workflow; its page links to the run in the Temporal Web UI.</p>
        <div class="field">
          <label for="temporal-ui">Web UI address</label>
          <input id="temporal-ui" type="url" value={settings.temporalUiBase} aria-invalid={error ? 'true' : undefined} aria-describedby="temporal-ui-error" onInput={(e) => setSettings({ ...settings, temporalUiBase: e.currentTarget.value })} />
          {error && (
            <p class="field-error" id="temporal-ui-error" role="alert">
              {error}
            </p>
          )}
        </div>
        <div class="field">
          <label for="temporal-namespace">Namespace</label>
          <input id="temporal-namespace" type="text" value={settings.temporalNamespace} onInput={(e) => setSettings({ ...settings, temporalNamespace: e.currentTarget.value })} />
        </div>
        <p class="muted small">
          Example: <code>{workflowUrl({ ...DEFAULT_SETTINGS, ...settings }, 'post-42')}</code>
        </p>
        <div class="actions">
          <button type="submit" class="primary">
            Save
          </button>
          <button type="button" class="secondary" onClick={() => setSettings({ ...settings, ...DEFAULT_SETTINGS })}>
            Reset to default
          </button>
        </div>
      </form>
      <section class="card">
        <h2>Session</h2>
        <p class="small">Your API key is kept in this browser only and sent in the Authorization header of each request.</p>
        <button type="button" class="secondary" onClick={props.onSignOut}>
          Sign out
        </button>
      </section>
    </div>
  );
}
