import { Router } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { SocialAccount } from '../../db/entities';
import type { FakeXServer } from '../../../test/fakes/x-fake';
import type { FakeLinkedInServer } from '../../../test/fakes/linkedin-fake';
import type { FakeMetaGraphServer } from '../../../test/fakes/meta-fake';
import { unescapeLittleText } from '../../platforms/little-text';
import { assertMember, authOf } from '../auth';
import { parseOrThrow } from '../errors';
import { accountsQuerySchema } from '../schemas';

export interface SandboxFakes {
  fakeX: FakeXServer;
  fakeLinkedIn?: FakeLinkedInServer;
  fakeMeta?: FakeMetaGraphServer;
}

interface SandboxPost {
  platform: string;
  accountId: string;
  id: string;
  kind: 'post' | 'reply' | 'comment' | 'media';
  inReplyTo: string | null;
  text: string;
  receivedAt: string;
}

/**
 * Sandbox only: what the in-app fakes received for a business's accounts, newest first, so a person
 * trying Herald sees the published threads and comments without real accounts.
 */
export function sandboxRoutes(deps: { orm: MikroORM } & SandboxFakes): Router {
  const router = Router();
  const list = async (req: Parameters<Parameters<Router['get']>[1]>[0], res: Parameters<Parameters<Router['get']>[1]>[1]) => {
    const auth = authOf(req);
    const { businessId } = parseOrThrow(accountsQuerySchema, req.query);
    assertMember(auth, businessId);
    const em = deps.orm.em.fork();
    const accounts = await em.find(SocialAccount, { businessId });
    const ids = new Set(accounts.map((account) => account.platformUserId));
    // Only what Herald published for THIS business: another business may connect the same
    // platform user id (nothing checks it owns it), and must not see this one's posts through it.
    const rows: Array<{ platform_post_id: string }> = await em.getConnection().execute(
      'select pp.platform_post_id from post_parts pp join posts p on p.id = pp.post_id where p.business_id = ? and pp.platform_post_id is not null',
      [businessId],
    );
    const published = new Set(rows.map((row) => row.platform_post_id));
    const posts = received(deps)
      .filter((post) => ids.has(post.accountId) && published.has(post.id))
      .sort((a, b) => b.receivedAt.localeCompare(a.receivedAt));
    res.json({ sandbox: true, note: 'Posts received by the local fakes; nothing was sent to the real platforms.', posts });
  };
  router.get('/sandbox/posts', list);
  router.get('/sandbox/x/posts', list);
  return router;
}

function received(fakes: SandboxFakes): SandboxPost[] {
  const x = fakes.fakeX.tweets.map((t): SandboxPost => ({
    platform: 'twitter', accountId: t.authorId, id: t.id, kind: t.inReplyToTweetId ? 'reply' : 'post', inReplyTo: t.inReplyToTweetId ?? null, text: t.text, receivedAt: t.receivedAt.toISOString(),
  }));
  const linkedInPosts = (fakes.fakeLinkedIn?.posts ?? []).map((p): SandboxPost => ({
    platform: 'linkedin', accountId: p.author, id: p.urn, kind: 'post', inReplyTo: null, text: unescapeLittleText(p.commentary), receivedAt: p.receivedAt.toISOString(),
  }));
  const linkedInComments = (fakes.fakeLinkedIn?.comments ?? []).map((c): SandboxPost => ({
    platform: 'linkedin', accountId: c.actor, id: c.urn, kind: 'comment', inReplyTo: c.postUrn, text: c.text, receivedAt: c.receivedAt.toISOString(),
  }));
  const pagePosts = (fakes.fakeMeta?.pagePosts ?? []).map((p): SandboxPost => ({
    platform: 'facebook', accountId: p.pageId, id: p.id, kind: 'post', inReplyTo: null, text: p.message, receivedAt: p.receivedAt.toISOString(),
  }));
  const pageComments = (fakes.fakeMeta?.pageComments ?? []).map((c): SandboxPost => ({
    platform: 'facebook', accountId: c.fromId, id: c.id, kind: 'comment', inReplyTo: c.postId, text: c.message, receivedAt: c.receivedAt.toISOString(),
  }));
  const media = (fakes.fakeMeta?.igMedia ?? []).map((m): SandboxPost => ({
    platform: 'instagram', accountId: m.igId, id: m.id, kind: 'media', inReplyTo: null, text: m.caption, receivedAt: m.publishedAt.toISOString(),
  }));
  return [...x, ...linkedInPosts, ...linkedInComments, ...pagePosts, ...pageComments, ...media];
}
