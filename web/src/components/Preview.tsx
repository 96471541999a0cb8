/**
 * What will be posted on one platform: the parts exactly as the engine will cut them (the same
 * `splitForPlatform`), each measured against the platform's limit, and everything worth a warning.
 */
import { useMemo } from 'preact/hooks';
import { countHashtags, INSTAGRAM_MAX_HASHTAGS, PLATFORM_LIMITS, splitForPlatform } from '../../../src/domain/platform-rules';
import { describeRepeatedParts, findRepeatedParts, repeatedPartGroups, type RepeatedPart } from '../../../src/domain/repeated-parts';
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
  /** Parts with the same text as an earlier part: the platform would refuse them mid-thread. */
  repeats: RepeatedPart[];
}

/** The warning for repeated parts: Compose holds back Publish and Schedule while one shows. */
export const REPEATED_PARTS_WARNING = 'repeated_parts';

/** The dashboard's advice names its own checkbox (the API names the `thread.numbering` field). */
const REPEATED_PARTS_REMEDY = 'tick “Number the parts of a thread” or change the text';

const numberFormat = new Intl.NumberFormat();

/** The parts and warnings for `platform`; pure, so Compose can use it to decide what may be sent. */
export function previewFor(platform: Platform, text: string, options: { numbering: boolean; imageUrl?: string }): PlatformPreviewModel {
  const { parts, warnings } = splitForPlatform(platform, text, { numbering: options.numbering });
  const limit = PLATFORM_LIMITS[platform];
  const result: PreviewWarning[] = warnings.filter((w) => w.code !== 'empty').map((w) => ({ code: w.code, message: w.message }));
  const repeats = findRepeatedParts(parts);
  if (repeats.length > 0) {
    result.push({ code: REPEATED_PARTS_WARNING, message: sentence(describeRepeatedParts(PLATFORM_META[platform].label, repeats, REPEATED_PARTS_REMEDY)), blocking: true });
  }
  if (platform === 'instagram') {
    if (!options.imageUrl?.trim()) result.push({ code: 'image_required', message: 'Instagram posts need an image: add its URL below the text.', blocking: true });
    const caption = parts[0];
    if (caption && caption.length > limit.maxLength) {
      result.push({ code: 'too_long', message: `Instagram captions are limited to ${numberFormat.format(limit.maxLength)} characters and are never split into a thread: shorten the text by ${numberFormat.format(caption.length - limit.maxLength)}.` });
    }
    const hashtags = countHashtags(text);
    if (hashtags > INSTAGRAM_MAX_HASHTAGS) result.push({ code: 'too_many_hashtags', message: `Instagram allows at most ${INSTAGRAM_MAX_HASHTAGS} hashtags; this text has ${hashtags}.` });
  }
  return { parts, warnings: result, repeats };
}

/** "parts 2 and 4 …" → "Parts 2 and 4 ….": the API's message fragments as a sentence. */
function sentence(fragment: string): string {
  return `${fragment.charAt(0).toUpperCase()}${fragment.slice(1)}.`;
}

/** For each part that shares its text with others, those others' 0-based indexes. */
function samePartsByIndex(repeats: RepeatedPart[]): Map<number, number[]> {
  const others = new Map<number, number[]>();
  for (const group of repeatedPartGroups(repeats)) for (const index of group) others.set(index, group.filter((other) => other !== index));
  return others;
}

/** "part 4" or "parts 1 and 5", 1-based. */
function partNames(indexes: number[]): string {
  const numbers = indexes.map((index) => String(index + 1));
  return numbers.length === 1 ? `part ${numbers[0]}` : `parts ${numbers.slice(0, -1).join(', ')} and ${numbers[numbers.length - 1]}`;
}

function threadNote(platform: Platform, count: number): string {
  const { threads } = PLATFORM_LIMITS[platform];
  if (count <= 1) return 'One post';
  if (threads === 'replies') return `A thread of ${count} posts, each replying to the one before`;
  if (threads === 'comments') return `${count} parts: the post, then ${count - 1} comment${count > 2 ? 's' : ''} on it`;
  return `${count} parts`;
}

/** `model`, when given, is `previewFor` of the same inputs, already computed by the caller. */
export function PlatformPreview(props: { platform: Platform; text: string; numbering: boolean; imageUrl?: string; account?: Account; model?: PlatformPreviewModel }) {
  const { platform, text } = props;
  const model = useMemo(
    () => props.model ?? previewFor(platform, text, { numbering: props.numbering, imageUrl: props.imageUrl }),
    [props.model, platform, text, props.numbering, props.imageUrl],
  );
  const sameAs = useMemo(() => samePartsByIndex(model.repeats), [model.repeats]);
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
              const same = sameAs.get(part.index);
              return (
                <li key={part.index} class={`part${over ? ' over' : ''}${same ? ' repeated' : ''}`} data-testid="preview-part" data-repeated={same ? 'true' : undefined}>
                  <p class="part-text" data-part-text>
                    {part.text}
                  </p>
                  {same && (
                    <p class="part-repeat" data-part-repeat>
                      Same text as {partNames(same)}
                    </p>
                  )}
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
