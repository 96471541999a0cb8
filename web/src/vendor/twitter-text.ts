/**
 * The two twitter-text functions the domain's splitter imports by name. twitter-text's ESM build
 * (its `module` entry, which bundlers pick) has only a default export, so `import { parseTweet }
 * from 'twitter-text'` fails there; web/vite.config.ts points 'twitter-text' here instead. Importing
 * the per-function modules also keeps autoLink & co. out of the bundle.
 */
export { default as parseTweet } from 'twitter-text/dist/esm/parseTweet';
export { default as extractEntitiesWithIndices } from 'twitter-text/dist/esm/extractEntitiesWithIndices';
