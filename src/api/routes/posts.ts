import { Router, type RequestHandler, type Response } from 'express';
import { authOf } from '../auth';
import { parseOrThrow, validationFailed } from '../errors';
import { assertSchedulable, type CreatedPost, type PostService } from '../post-service';
import type { IdempotencyClaim } from '../post-creation';
import { calendarQuerySchema, idParamSchema, publishBodySchema, publishQuerySchema, rescheduleBodySchema, scheduleBodySchema, scheduledQuerySchema } from '../schemas';

/** Publish now, schedule, list, the calendar, reschedule, cancel and read posts. Each route parses, calls one service method, maps the result. */
export function postRoutes(service: PostService, now: () => Date = () => new Date(), idempotent: RequestHandler = (_req, _res, next) => next()): Router {
  const router = Router();
  const claimOf = (res: Response): IdempotencyClaim | undefined => res.locals.idempotency as IdempotencyClaim | undefined;
  /** A replay answers like the first request did, and says so. */
  const replayed = (res: Response, created: CreatedPost) => {
    if (created.replayed) res.setHeader('Idempotent-Replayed', 'true');
  };

  router.post('/publish', idempotent, async (req, res) => {
    const auth = authOf(req);
    const { wait } = parseOrThrow(publishQuerySchema, req.query);
    const body = parseOrThrow(publishBodySchema, req.body);
    const created = await service.createPost(auth, body, now(), undefined, claimOf(res));
    const post = await service.waitForOutcome(created.post, wait);
    replayed(res, created);
    res.status(post.status === 'scheduled' || post.status === 'publishing' ? 202 : 200).json(post);
  });

  router.post('/publish/multi-platform', idempotent, async (req, res) => {
    const auth = authOf(req);
    const body = parseOrThrow(publishBodySchema, req.body);
    const created = await service.createPost(auth, body, now(), undefined, claimOf(res));
    replayed(res, created);
    res.status(202).json(created.post);
  });

  router.post('/schedule', idempotent, async (req, res) => {
    const auth = authOf(req);
    const { scheduledFor, timezone, ...body } = parseOrThrow(scheduleBodySchema, req.body);
    const when = new Date(scheduledFor);
    assertSchedulable(when, now());
    const created = await service.createPost(auth, body, when, timezone, claimOf(res));
    replayed(res, created);
    res.status(201).json(created.post);
  });

  router.get('/scheduled', async (req, res) => {
    const auth = authOf(req);
    const { view, cursor, ...query } = parseOrThrow(scheduledQuerySchema, req.query);
    if (view === 'summary') {
      res.json(await service.listSummaries(auth, { ...query, cursor }));
      return;
    }
    if (cursor !== undefined) throw validationFailed([{ path: 'cursor', message: 'is only taken with view=summary' }]);
    res.json({ posts: await service.listScheduled(auth, query) });
  });

  router.get('/calendar', async (req, res) => {
    const auth = authOf(req);
    // Postgres wrote the JSON: sent as it came (no parse and stringify in the API).
    res.type('json').send(await service.calendar(auth, parseOrThrow(calendarQuerySchema, req.query)));
  });

  router.put('/schedule/:postId', async (req, res) => {
    const auth = authOf(req);
    const postId = parseOrThrow(idParamSchema, req.params.postId, 'postId');
    const { scheduledFor } = parseOrThrow(rescheduleBodySchema, req.body);
    const { post, confirmed } = await service.reschedule(auth, postId, new Date(scheduledFor));
    res.status(confirmed ? 200 : 202).json(post);
  });

  router.delete('/schedule/:postId', async (req, res) => {
    const auth = authOf(req);
    const postId = parseOrThrow(idParamSchema, req.params.postId, 'postId');
    const { post, confirmed } = await service.cancel(auth, postId);
    res.status(confirmed ? 200 : 202).json(post);
  });

  router.get('/posts/:postId', async (req, res) => {
    const auth = authOf(req);
    const postId = parseOrThrow(idParamSchema, req.params.postId, 'postId');
    res.json(await service.getPost(auth, postId));
  });

  return router;
}
