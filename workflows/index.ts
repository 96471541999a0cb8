/** The worker's workflow bundle entry point. */
export { publishPostWorkflow } from './publish-post';
export { refreshTokensWorkflow } from './refresh-tokens';
export { reconcilePostsWorkflow } from './reconcile-posts';
