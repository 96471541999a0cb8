/**
 * A business per scenario (so each scenario's posts, workflows and platform accounts are its own):
 * created with the product's admin bootstrap, accounts connected through the API like a customer.
 */
import { randomBytes } from 'node:crypto';
import { bootstrap } from '../src/admin';
import { callApi } from './lib';
import type { Stack } from './stack';

export interface Tenant {
  name: string;
  businessId: number;
  apiKey: string;
  xUserId: string;
  linkedinUrn?: string;
}

let counter = 0;

export async function createTenant(stack: Stack, name: string, options: { linkedin?: boolean } = {}): Promise<Tenant> {
  counter += 1;
  const suffix = `${stack.runTag}-${counter}`;
  const created = await bootstrap(stack.orm, { business: `Bench ${name} ${suffix}`, email: `bench-${suffix}@example.test` });
  const tenant: Tenant = { name, businessId: created.businessId, apiKey: created.apiKey, xUserId: String(2_000_000_000 + counter) };

  const xToken = `x-bench-${randomBytes(12).toString('hex')}`;
  stack.fakeX.addUser(tenant.xUserId, xToken, `bench_${counter}`);
  await connect(stack, tenant, 'twitter', tenant.xUserId, xToken);

  if (options.linkedin) {
    tenant.linkedinUrn = `urn:li:organization:${900_000 + counter}`;
    const liToken = `li-bench-${randomBytes(12).toString('hex')}`;
    stack.fakeLinkedIn.addAuthor(tenant.linkedinUrn, liToken, { canReadPosts: true });
    await connect(stack, tenant, 'linkedin', tenant.linkedinUrn, liToken);
  }
  return tenant;
}

async function connect(stack: Stack, tenant: Tenant, platform: string, platformUserId: string, accessToken: string): Promise<void> {
  const response = await callApi(stack.api.url, tenant.apiKey, 'POST', '/api/v2/accounts', {
    businessId: tenant.businessId,
    platform,
    platformUserId,
    displayName: `bench ${platform}`,
    accessToken,
  });
  if (response.status !== 201) throw new Error(`connecting ${platform} failed (${response.status}): ${JSON.stringify(response.body ?? response.error)}`);
}
