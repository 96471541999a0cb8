/**
 * Domain events the engine reports as they happen. Metrics and structured logs subscribe to them,
 * so activities and the API stay free of telemetry code. Implementations must never throw.
 */
import type { FailureClass, Platform, PostStatus } from '../domain/types';

export interface HeraldEvents {
  /** The API stored a post and started its workflow. */
  postCreated(event: { postId: number; workflowId?: string; businessId: number; platforms: Platform[]; scheduledFor: Date; immediate: boolean }): void;
  /** A part reached the platform (or was found there by reconciliation). */
  partPublished(event: { postId: number; workflowId?: string; platform: Platform; partIndex: number; latenessMs?: number; reconciled: boolean }): void;
  /** An attempt to publish a part failed; `final` when no retry will follow. */
  partFailed(event: { postId: number; workflowId?: string; platform: Platform; partIndex: number; failureClass: FailureClass; final: boolean; attempt: number }): void;
  /** A post's workflow recorded a final state. */
  postFinished(event: { postId: number; workflowId?: string; status: PostStatus; targets: Array<{ platform: Platform; status: string; errorClass: FailureClass | null }> }): void;
}

export const noEvents: HeraldEvents = {
  postCreated: () => undefined,
  partPublished: () => undefined,
  partFailed: () => undefined,
  postFinished: () => undefined,
};
