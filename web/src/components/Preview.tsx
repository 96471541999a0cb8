/**
 * What will be posted on one platform: the parts exactly as the engine will cut them (the same
 * `splitForPlatform`), each measured against the platform's limit, and everything worth a warning.
 */
import { useMemo } from 'preact/hooks';
import { countHashtags, INSTAGRAM_MAX_HASHTAGS, PLATFORM_LIMITS, splitForPlatform } from '../../../src/domain/platform-rules';
import type { ThreadPart } from '../../../src/domain/thread';
import type { Account } from '../api';
import { PLATFORM_META, type Platform } from '../platforms';
import { PlatformMark } from './Badges';

export interface PreviewWarning {
  code: string;
  message: string;
  /** Publishing cannot succeed until it is fixed. */
  blocking?: boolean;
}

export interface PlatformPreviewModel {
  parts: ThreadPart[];
  warnings: PreviewWarning[];
}

const numberFormat = new Intl.NumberFormat();

/** The parts and warnings for `platform`; pure, so Compose can use it to decide what may be sent. */
export function previewFor(platform: Platform, text: string, options: { numbering: boolean; imageUrl?: string }): PlatformPreviewModel {
  const { parts, warnings } = splitForPlatform(platform, text, { numbering: options.numbering });
  const limit = PLATFORM_LIMITS[platform];
  const result: PreviewWarning[] = warnings.filter((w) => w.code !== 'empty').map((w) => ({ code: w.code, message: w.message }));
  if (platform === 'instagram') {
    if (!options.imageUrl?.trim()) result.push({ code: 'image_required', message: 'Instagram posts need an image: add its URL below the text.', blocking: true });
    const caption = parts[0];
    if (caption && caption.length > limit.maxLength) {
      result.push({ code: 'too_long', message: `Instagram captions are limited to ${numberFormat.format(limit.maxLength)} characters and are never split into a thread: shorten the text by ${numberFormat.format(caption.length - limit.maxLength)}.` });
    }
    const hashtags = countHashtags(text);
    if (hashtags > INSTAGRAM_MAX_HASHTAGS) result.push({ code: 'too_many_hashtags', message: `Instagram allows at most ${INSTAGRAM_MAX_HASHTAGS} hashtags; this text has ${hashtags}.` });
  }
  return { parts, warnings: result };
}

function threadNote(platform: Platform, count: number): string {
  const { threads } = PLATFORM_LIMITS[platform];
  if (count <= 1) return 'One post';
  if (threads === 'replies') return `A thread of ${count} posts, each replying to the one before`;
  if (threads === 'comments') return `${count} parts: the post, then ${count - 1} comment${count > 2 ? 's' : ''} on it`;
  return `${count} parts`;
}

export function PlatformPreview(props: { platform: Platform; text: string; numbering: boolean; imageUrl?: string; account?: Account }) {
  const { platform, text } = props;
  const model = useMemo(() => previewFor(platform, text, { numbering: props.numbering, imageUrl: props.imageUrl }), [platform, text, props.numbering, props.imageUrl]);
  const limit = PLATFORM_LIMITS[platform];
  const meta = PLATFORM_META[platform];

  return (
    <section class={`preview preview-${platform}`} aria-label={`${meta.label} preview`} data-testid={`preview-${platform}`} data-part-count={model.parts.length}>
      <header class="preview-header">
        <PlatformMark platform={platform} />
        <div>
          <h3>{meta.label}</h3>
          <p class="muted small">
            {props.account?.displayName ?? props.account?.platformUserId ?? ''}
            {props.account ? ' · ' : ''}
            limit {numberFormat.format(limit.maxLength)} {limit.unit}
          </p>
        </div>
      </header>
      {model.parts.length === 0 ? (
        <p class="muted preview-empty">Start typing to see the {meta.label} post.</p>
      ) : (
        <>
          <p class="small preview-shape">{threadNote(platform, model.parts.length)}</p>
          <ol class="parts">
            {model.parts.map((part) => {
              const over = part.length > limit.maxLength;
              const ratio = Math.min(1, part.length / limit.maxLength);
              return (
                <li key={part.index} class={`part${over ? ' over' : ''}`} data-testid="preview-part">
                  <p class="part-text" data-part-text>
                    {part.text}
                  </p>
                  <div class="part-meta">
                    {model.parts.length > 1 && <span class="part-index">Part {part.index + 1} of {model.parts.length}</span>}
                    <span class="meter" aria-hidden="true">
                      <span style={{ width: `${ratio * 100}%` }} />
                    </span>
                    <span class="part-count" data-part-length={part.length} title={limit.unit}>
                      {numberFormat.format(part.length)} / {numberFormat.format(limit.maxLength)}
                      <span class="visually-hidden"> {limit.unit}</span>
                    </span>
                  </div>
                </li>
              );
            })}
          </ol>
        </>
      )}
      {model.warnings.length > 0 && (
        <ul class="warnings" aria-label={`${meta.label} warnings`}>
          {model.warnings.map((warning, i) => (
            <li key={i} class={`warning${warning.blocking ? ' blocking' : ''}`} data-warning={warning.code}>
              {warning.message}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
