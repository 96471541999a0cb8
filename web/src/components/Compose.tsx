/**
 * Compose: the text, the platforms of the business's connected accounts, a live preview per
 * platform, and two ways out — publish now, or schedule.
 */
import { useEffect, useId, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, isFinal, newIdempotencyKey, type Account, type Business, type FieldProblem, type Post, type PostDraft } from '../api';
import { dateKey, wallTimeAt } from '../time';
import { href, notify, useLive } from '../hooks';
import { PLATFORM_META, PLATFORMS, type Platform } from '../platforms';
import { recall, remember } from '../session';
import { formatDateTime } from '../format';
import { PlatformMark } from './Badges';
import { Modal } from './Modal';
import { PlatformPreview, previewFor, REPEATED_PARTS_WARNING, type PreviewWarning } from './Preview';
import { PublishOutcome } from './Results';
import { defaultWhen, resolveWhen, WhenFields, type WhenValue } from './WhenFields';

/** Field-level problems, keyed by the field they belong to. */
type FieldErrors = Partial<Record<'content' | 'platforms' | 'imageUrl' | 'numbering' | 'scheduledFor' | 'timezone' | 'general', string[]>> & {
  platform?: Partial<Record<Platform, string[]>>;
};

type PublishState =
  | { kind: 'idle' }
  | { kind: 'sending'; since: number }
  | { kind: 'following'; post: Post }
  | { kind: 'done'; post: Post }
  | { kind: 'error'; error: ApiError };

/** Maps the API's `details[].path` to the field that shows it. */
export function fieldErrorsFrom(details: FieldProblem[], platforms: Platform[]): FieldErrors {
  const errors: FieldErrors = {};
  const add = (key: Exclude<keyof FieldErrors, 'platform'>, message: string) => (errors[key] = [...(errors[key] ?? []), message]);
  for (const { path, message } of details) {
    const platformIndex = /^platforms\.(\d+)/.exec(path);
    if (platformIndex && platforms[Number(platformIndex[1])]) {
      const platform = platforms[Number(platformIndex[1])]!;
      errors.platform = { ...errors.platform, [platform]: [...(errors.platform?.[platform] ?? []), message] };
    } else if (path === 'content') add('content', message);
    else if (path.startsWith('platforms')) add('platforms', message);
    else if (path.startsWith('platformParams.instagram')) add('imageUrl', message);
    else if (path.startsWith('thread')) add('numbering', message);
    else if (path === 'scheduledFor') add('scheduledFor', message);
    else if (path === 'timezone') add('timezone', message);
    else add('general', path && path !== '(body)' ? `${path}: ${message}` : message);
  }
  return errors;
}

interface Draft {
  text: string;
  numbering: boolean;
  imageUrl: string;
}

/** The latest active account per platform (the one the API publishes with). */
function activeAccounts(accounts: Account[] | undefined): Map<Platform, Account> {
  const map = new Map<Platform, Account>();
  for (const account of [...(accounts ?? [])].sort((a, b) => a.id - b.id)) if (account.isActive) map.set(account.platform, account);
  return map;
}

export function Compose(props: { business: Business }) {
  const { business } = props;
  const id = useId();
  const accountsLive = useLive((signal) => api.accounts(business.id, signal), [business.id], 60_000);
  const connected = useMemo(() => activeAccounts(accountsLive.data), [accountsLive.data]);
  const [draft, setDraft] = useState<Draft>(() => ({ text: '', numbering: false, imageUrl: '', ...recall<Draft>('draft') }));
  const [chosen, setChosen] = useState<Platform[] | undefined>(() => recall<Platform[]>(`platforms.${business.id}`));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [publish, setPublish] = useState<PublishState>({ kind: 'idle' });
  const [scheduling, setScheduling] = useState(false);
  const scheduleButton = useRef<HTMLButtonElement>(null);
  const idempotency = useRef<{ body: string; key: string } | undefined>(undefined);
  const following = useRef<AbortController | undefined>(undefined);

  useEffect(() => remember('draft', draft), [draft]);
  useEffect(() => () => following.current?.abort(), []);
  useEffect(() => setChosen(recall<Platform[]>(`platforms.${business.id}`)), [business.id]);

  // Without a remembered choice, every connected platform is selected; never one that is not connected.
  const selected = PLATFORMS.filter((p) => connected.has(p) && (chosen ? chosen.includes(p) : true));
  const setSelected = (platform: Platform, on: boolean) => {
    const next = PLATFORMS.filter((p) => connected.has(p) && (p === platform ? on : selected.includes(p)));
    setChosen(next);
    remember(`platforms.${business.id}`, next);
    setErrors((e) => ({ ...e, platforms: undefined, platform: { ...e.platform, [platform]: undefined } }));
  };
  const update = (patch: Partial<Draft>) => {
    setDraft((d) => ({ ...d, ...patch }));
    if ('text' in patch) setErrors((e) => ({ ...e, content: undefined }));
    if ('imageUrl' in patch) setErrors((e) => ({ ...e, imageUrl: undefined }));
  };

  // The previews, computed once per change: they show the parts, and say what must be fixed first.
  const selectedKey = selected.join(',');
  const previews = useMemo(
    () => new Map(selected.map((platform) => [platform, previewFor(platform, draft.text, { numbering: draft.numbering, imageUrl: draft.imageUrl })])),
    [selectedKey, draft.text, draft.numbering, draft.imageUrl],
  );
  // A platform would refuse the thread halfway (repeated parts): nothing may be sent until it is fixed.
  const holdingBack: PreviewWarning[] = selected.flatMap((platform) => previews.get(platform)?.warnings.filter((w) => w.code === REPEATED_PARTS_WARNING) ?? []);
  const heldBack = holdingBack.length > 0;

  const body: PostDraft = {
    businessId: business.id,
    content: draft.text,
    platforms: selected,
    ...(selected.includes('instagram') && draft.imageUrl.trim() ? { platformParams: { instagram: { imageUrl: draft.imageUrl.trim() } } } : {}),
    ...(draft.numbering ? { thread: { numbering: true } } : {}),
  };

  /** Problems we know of before asking the server (the server checks everything again). */
  function localProblems(): FieldErrors {
    const problems: FieldErrors = {};
    if (!draft.text.trim()) problems.content = ['Write something to post.'];
    if (selected.length === 0) problems.platforms = ['Choose at least one platform.'];
    for (const platform of selected) {
      const blocking = previews.get(platform)?.warnings.filter((w) => w.blocking) ?? [];
      if (platform === 'instagram' && blocking.length > 0) problems.imageUrl = blocking.map((w) => w.message);
    }
    return problems;
  }

  /** The same body keeps the same Idempotency-Key, so a retry after a lost answer cannot post twice. */
  function idempotencyKey(extra: unknown = null): string {
    const signature = JSON.stringify([body, extra]);
    if (idempotency.current?.body !== signature) idempotency.current = { body: signature, key: newIdempotencyKey() };
    return idempotency.current.key;
  }

  function succeeded() {
    idempotency.current = undefined;
    setDraft((d) => ({ ...d, text: '', imageUrl: '' }));
  }

  function failed(err: unknown): ApiError {
    const error = err instanceof ApiError ? err : new ApiError(0, 'network', (err as Error).message);
    if (!error.outcomeUnknown) idempotency.current = undefined;
    setErrors(fieldErrorsFrom(error.details, selected));
    return error;
  }

  async function follow(post: Post) {
    following.current?.abort();
    const controller = new AbortController();
    following.current = controller;
    let current = post;
    setPublish({ kind: 'following', post: current });
    while (!isFinal(current.status) && !controller.signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      try {
        current = await api.post(post.id, controller.signal);
        if (!controller.signal.aborted) setPublish({ kind: isFinal(current.status) ? 'done' : 'following', post: current });
      } catch (err) {
        if ((err as Error).name === 'AbortError') return;
      }
    }
  }

  async function publishNow() {
    if (heldBack) return; // the button is disabled; this covers a submit by other means
    const problems = localProblems();
    setErrors(problems);
    if (Object.keys(problems).length > 0) return;
    setPublish({ kind: 'sending', since: Date.now() });
    try {
      const { body: post } = await api.publish(body, idempotencyKey('now'), 10);
      idempotency.current = undefined;
      if (post.status === 'published') succeeded();
      if (isFinal(post.status)) setPublish({ kind: 'done', post });
      else void follow(post);
    } catch (err) {
      setPublish({ kind: 'error', error: failed(err) });
    }
  }

  const sending = publish.kind === 'sending';
  const fieldError = (messages: string[] | undefined, errorId: string) =>
    messages && messages.length > 0 ? (
      <div class="field-error" id={errorId} role="alert">
        {messages.map((m, i) => (
          <p key={i}>{m}</p>
        ))}
      </div>
    ) : null;

  return (
    <div class="compose">
      <section class="compose-editor card" aria-labelledby={`${id}-heading`}>
        <h1 id={`${id}-heading`}>Compose</h1>
        <form
          onSubmit={(event) => {
            event.preventDefault();
            void publishNow();
          }}
          noValidate
        >
          <div class="field">
            <label for={`${id}-text`}>Post text</label>
            <textarea
              id={`${id}-text`}
              name="content"
              rows={9}
              value={draft.text}
              placeholder="What do you want to share?"
              aria-invalid={errors.content ? 'true' : undefined}
              aria-describedby={`${id}-text-count${errors.content ? ` ${id}-text-error` : ''}`}
              onInput={(e) => update({ text: e.currentTarget.value })}
            />
            <p class="muted small" id={`${id}-text-count`}>
              {[...draft.text].length.toLocaleString()} characters
            </p>
            {fieldError(errors.content, `${id}-text-error`)}
          </div>

          <fieldset class="field platforms-field" aria-describedby={errors.platforms ? `${id}-platforms-error` : undefined}>
            <legend>Post to</legend>
            {accountsLive.loading && !accountsLive.data && <p class="muted">Loading connected accounts…</p>}
            {accountsLive.error && !accountsLive.data && <p class="field-error">Could not load the accounts: {accountsLive.error.message}</p>}
            {accountsLive.data && connected.size === 0 && (
              <p class="empty-inline">
                No account is connected to {business.name} yet. <a href="#/accounts">Connect one</a>, then come back.
              </p>
            )}
            <div class="platform-toggles">
              {PLATFORMS.filter((p) => connected.has(p)).map((platform) => {
                const account = connected.get(platform)!;
                const problem = errors.platform?.[platform];
                return (
                  <div key={platform} class="platform-toggle-wrap">
                    <label class={`platform-toggle${selected.includes(platform) ? ' on' : ''}`} data-testid={`toggle-${platform}`}>
                      <input type="checkbox" name="platforms" value={platform} checked={selected.includes(platform)} aria-invalid={problem ? 'true' : undefined} onChange={(e) => setSelected(platform, e.currentTarget.checked)} />
                      <PlatformMark platform={platform} />
                      <span>
                        <span class="toggle-name">{PLATFORM_META[platform].label}</span>
                        <span class="toggle-account small muted">{account.displayName ?? account.platformUserId}</span>
                      </span>
                    </label>
                    {fieldError(problem, `${id}-platform-${platform}-error`)}
                  </div>
                );
              })}
            </div>
            {connected.size > 0 && connected.size < PLATFORMS.length && (
              <p class="muted small">
                Not connected: {PLATFORMS.filter((p) => !connected.has(p)).map((p) => PLATFORM_META[p].label).join(', ')}
              </p>
            )}
            {fieldError(errors.platforms, `${id}-platforms-error`)}
          </fieldset>

          {selected.includes('instagram') && (
            <div class="field">
              <label for={`${id}-image`}>Image URL for Instagram</label>
              <input
                id={`${id}-image`}
                type="url"
                name="imageUrl"
                inputMode="url"
                placeholder="https://…/photo.jpg"
                value={draft.imageUrl}
                aria-invalid={errors.imageUrl ? 'true' : undefined}
                aria-describedby={errors.imageUrl ? `${id}-image-error` : undefined}
                onInput={(e) => update({ imageUrl: e.currentTarget.value })}
              />
              {fieldError(errors.imageUrl, `${id}-image-error`)}
            </div>
          )}

          <div class="field">
            <label class="checkbox">
              <input type="checkbox" name="numbering" checked={draft.numbering} onChange={(e) => update({ numbering: e.currentTarget.checked })} />
              Number the parts of a thread (“1/3”)
            </label>
            {fieldError(errors.numbering, `${id}-numbering-error`)}
          </div>

          {fieldError(errors.general, `${id}-general-error`)}

          <div id={`${id}-held`} class="held-back" aria-live="polite" data-testid="held-back">
            {heldBack && (
              <ul class="warnings">
                {holdingBack.map((warning, i) => (
                  <li key={i} class="warning blocking">
                    <strong>Cannot publish or schedule yet.</strong> {warning.message}
                  </li>
                ))}
              </ul>
            )}
          </div>

          <div class="actions">
            <button
              type="submit"
              class="primary"
              disabled={sending || publish.kind === 'following' || heldBack}
              aria-describedby={`${heldBack ? `${id}-held ` : ''}${id}-status`}
            >
              {sending ? 'Publishing…' : 'Publish now'}
            </button>
            <button
              ref={scheduleButton}
              type="button"
              class="secondary"
              disabled={sending || heldBack}
              aria-describedby={heldBack ? `${id}-held` : undefined}
              onClick={() => {
                if (heldBack) return;
                const problems = localProblems();
                setErrors(problems);
                if (Object.keys(problems).length === 0) setScheduling(true);
              }}
            >
              Schedule…
            </button>
          </div>
        </form>
        <div id={`${id}-status`} class="publish-status" aria-live="polite" data-testid="publish-status" data-state={publish.kind === 'done' ? publish.post.status : publish.kind}>
          <PublishStatus state={publish} zone={business.timezone} onDismiss={() => setPublish({ kind: 'idle' })} />
        </div>
      </section>

      <section class="compose-previews" aria-label="Previews">
        <h2 class="previews-title">Preview</h2>
        {selected.length === 0 ? (
          <p class="muted card">Choose a platform to see exactly what will be posted.</p>
        ) : (
          selected.map((platform) => (
            <PlatformPreview key={platform} platform={platform} text={draft.text} numbering={draft.numbering} imageUrl={draft.imageUrl} account={connected.get(platform)} model={previews.get(platform)} />
          ))
        )}
      </section>

      {scheduling && (
        <ScheduleDialog
          business={business}
          body={body}
          idempotencyKey={(when) => idempotencyKey(when)}
          onClose={() => setScheduling(false)}
          returnFocus={() => scheduleButton.current}
          onScheduled={(post) => {
            succeeded();
            setScheduling(false);
            setPublish({ kind: 'idle' });
            const zone = post.timezone ?? business.timezone;
            const wall = wallTimeAt(post.scheduledFor, business.timezone);
            notify('success', `Scheduled for ${formatDateTime(post.scheduledFor, zone)} (${zone}).`, {
              href: href('scheduled', { view: 'calendar', month: dateKey(wall).slice(0, 7) }),
              label: 'See it on the calendar',
            });
          }}
          onFieldErrors={(details) => setErrors(fieldErrorsFrom(details, selected))}
        />
      )}
    </div>
  );
}

function PublishStatus(props: { state: PublishState; zone: string; onDismiss: () => void }) {
  const { state } = props;
  if (state.kind === 'idle') return null;
  if (state.kind === 'sending') {
    return (
      <div class="status-box status-busy">
        <span class="spinner" aria-hidden="true" /> Publishing… Herald waits for the platforms to confirm.
      </div>
    );
  }
  if (state.kind === 'following') {
    return (
      <div class="status-box status-busy">
        <span class="spinner" aria-hidden="true" /> Still publishing (post {state.post.id}). It carries on even if you leave this page.
        <PublishOutcome post={state.post} zone={props.zone} />
      </div>
    );
  }
  if (state.kind === 'error') {
    const { error } = state;
    return (
      <div class="status-box status-error" role="alert">
        <p>
          <strong>{error.outcomeUnknown ? 'No answer from Herald.' : 'Not published.'}</strong> {error.message}
        </p>
        {error.outcomeUnknown && <p class="small">The post may or may not have been created. Check the Scheduled list before trying again.</p>}
        <button type="button" class="link-button" onClick={props.onDismiss}>
          Dismiss
        </button>
      </div>
    );
  }
  const kind = state.post.status === 'published' ? 'success' : state.post.status === 'partially_published' ? 'partial' : 'error';
  return (
    <div class={`status-box status-${kind}`} role={kind === 'success' ? undefined : 'alert'}>
      <PublishOutcome post={state.post} zone={props.zone} />
      <button type="button" class="link-button" onClick={props.onDismiss}>
        Dismiss
      </button>
    </div>
  );
}

function ScheduleDialog(props: {
  business: Business;
  body: PostDraft;
  idempotencyKey: (when: WhenValue) => string;
  onClose: () => void;
  returnFocus: () => HTMLElement | null;
  onScheduled: (post: Post) => void;
  onFieldErrors: (details: FieldProblem[]) => void;
}) {
  const [when, setWhen] = useState<WhenValue>(() => defaultWhen(props.business.timezone));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const resolved = resolveWhen(when);
  const serverErrors = error ? fieldErrorsFrom(error.details, props.body.platforms) : {};
  const otherProblems = error ? error.details.filter((d) => d.path !== 'scheduledFor' && d.path !== 'timezone') : [];

  async function submit() {
    if (!resolved.iso || busy) return;
    setBusy(true);
    setError(undefined);
    try {
      const { body: post } = await api.schedule({ ...props.body, scheduledFor: resolved.iso, timezone: when.zone }, props.idempotencyKey(when));
      props.onScheduled(post);
    } catch (err) {
      const apiError = err instanceof ApiError ? err : new ApiError(0, 'network', (err as Error).message);
      setError(apiError);
      props.onFieldErrors(apiError.details);
      setBusy(false);
    }
  }

  return (
    <Modal title="Schedule post" onClose={props.onClose} returnFocus={props.returnFocus} testId="schedule-dialog">
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void submit();
        }}
        noValidate
      >
        <WhenFields
          value={when}
          onChange={(value) => {
            setWhen(value);
            setError(undefined);
          }}
          knownZones={[props.business.timezone]}
          serverErrors={{ scheduledFor: serverErrors.scheduledFor?.join(' '), timezone: serverErrors.timezone?.join(' ') }}
        />
        {error && (error.details.length === 0 || otherProblems.length > 0) && (
          <div class="field-error" role="alert">
            <p>{error.details.length === 0 ? error.message : 'Fix the post first:'}</p>
            {otherProblems.length > 0 && (
              <ul>
                {otherProblems.map((problem, i) => (
                  <li key={i}>
                    {problem.path}: {problem.message}
                  </li>
                ))}
              </ul>
            )}
            {error.outcomeUnknown && <p class="small">The post may or may not have been scheduled. Check the Scheduled list before trying again.</p>}
          </div>
        )}
        <div class="actions">
          <button type="submit" class="primary" disabled={!resolved.iso || busy}>
            {busy ? 'Scheduling…' : 'Schedule'}
          </button>
          <button type="button" class="secondary" onClick={props.onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Modal>
  );
}
