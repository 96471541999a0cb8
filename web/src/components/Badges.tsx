/** Platform marks and status badges: colour and text together, never colour alone. */
import type { PostStatus, TargetStatus } from '../../../src/domain/types';
import { PLATFORM_META, POST_STATUS_LABEL, TARGET_STATUS_LABEL, type Platform } from '../platforms';

export function PlatformMark(props: { platform: Platform; small?: boolean }) {
  const meta = PLATFORM_META[props.platform];
  return (
    <span class={`mark mark-${props.platform}${props.small ? ' mark-small' : ''}`} title={meta.label} role="img" aria-label={meta.label}>
      {meta.mark}
    </span>
  );
}

export function StatusBadge(props: { status: PostStatus; pending?: string }) {
  return (
    <span class={`badge badge-${props.status}`} data-status={props.status}>
      {props.pending ?? POST_STATUS_LABEL[props.status]}
    </span>
  );
}

export function TargetBadge(props: { status: TargetStatus }) {
  return (
    <span class={`badge badge-target-${props.status}`} data-target-status={props.status}>
      {TARGET_STATUS_LABEL[props.status]}
    </span>
  );
}
