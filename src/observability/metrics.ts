/**
 * Prometheus metrics of Herald's own domain, fed by HeraldEvents. Every label value comes from a
 * closed set (platform, failure class, post status, ...): never an id, a text or a token, so the
 * number of series stays small and nothing secret reaches a scraper.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { HeraldEvents } from './events';

/**
 * Lateness of the first part, from 50 ms (a timer firing on time plus one HTTP round trip) to a
 * minute (a worker restart or a platform reset); later than that falls into +Inf and is an incident.
 */
export const LATENESS_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

export const METRIC_NAMES = {
  postsScheduled: 'herald_posts_scheduled_total',
  partsPublished: 'herald_parts_published_total',
  partsFailed: 'herald_parts_failed_total',
  partRetries: 'herald_part_retries_total',
  publishLateness: 'herald_publish_lateness_seconds',
  postsFinished: 'herald_posts_finished_total',
  targetsFinished: 'herald_targets_finished_total',
} as const;

/** One registry per process; `processMetrics` adds Node's CPU, memory and event-loop metrics. */
export function createMetricsRegistry(options: { processMetrics?: boolean; labels?: Record<string, string> } = {}): Registry {
  const registry = new Registry();
  if (options.labels) registry.setDefaultLabels(options.labels);
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  return registry;
}

/** HeraldEvents that count into `registry`. Call once per registry (metric names are registered). */
export function createMetricsEvents(registry: Registry): HeraldEvents {
  const metrics = registerDomainMetrics(registry);
  return {
    postCreated(event) {
      const timing = event.immediate ? 'immediate' : 'scheduled';
      for (const platform of event.platforms) metrics.postsScheduled.inc({ platform, timing });
    },
    partPublished(event) {
      metrics.partsPublished.inc({ platform: event.platform, reconciled: String(event.reconciled) });
      // A reconciled part was accepted by the platform at some unknown earlier moment: its lateness would lie.
      if (event.partIndex === 0 && event.latenessMs !== undefined && !event.reconciled) {
        metrics.publishLateness.observe({ platform: event.platform }, Math.max(0, event.latenessMs) / 1000);
      }
    },
    partFailed(event) {
      const labels = { platform: event.platform, failure_class: event.failureClass };
      if (event.final) metrics.partsFailed.inc(labels);
      else metrics.partRetries.inc(labels);
    },
    postFinished(event) {
      metrics.postsFinished.inc({ status: event.status });
      for (const target of event.targets) {
        metrics.targetsFinished.inc({ platform: target.platform, status: target.status, failure_class: target.errorClass ?? 'none' });
      }
    },
  };
}

function registerDomainMetrics(registry: Registry) {
  const registers = [registry];
  return {
    postsScheduled: new Counter({
      name: METRIC_NAMES.postsScheduled,
      help: 'Posts accepted by the API and handed to Temporal, per target platform; timing=immediate|scheduled.',
      labelNames: ['platform', 'timing'] as const,
      registers,
    }),
    partsPublished: new Counter({
      name: METRIC_NAMES.partsPublished,
      help: 'Parts (thread posts) accepted by a platform; reconciled=true when found there after an unclear outcome.',
      labelNames: ['platform', 'reconciled'] as const,
      registers,
    }),
    partsFailed: new Counter({
      name: METRIC_NAMES.partsFailed,
      help: 'Part attempts that failed with no retry to follow (auth, rejected), by failure class.',
      labelNames: ['platform', 'failure_class'] as const,
      registers,
    }),
    partRetries: new Counter({
      name: METRIC_NAMES.partRetries,
      help: 'Part attempts that failed and will be retried (retryable, unknown_outcome), by failure class.',
      labelNames: ['platform', 'failure_class'] as const,
      registers,
    }),
    publishLateness: new Histogram({
      name: METRIC_NAMES.publishLateness,
      help: "Seconds between a post's scheduled time and its first part being accepted by the platform.",
      labelNames: ['platform'] as const,
      buckets: LATENESS_BUCKETS_SECONDS,
      registers,
    }),
    postsFinished: new Counter({
      name: METRIC_NAMES.postsFinished,
      help: 'Posts that reached a final state: published, partially_published, failed or cancelled.',
      labelNames: ['status'] as const,
      registers,
    }),
    targetsFinished: new Counter({
      name: METRIC_NAMES.targetsFinished,
      help: 'Per-platform outcomes of finished posts; failure_class=none unless the target failed.',
      labelNames: ['platform', 'status', 'failure_class'] as const,
      registers,
    }),
  };
}
