// Types of twitter-text's per-function ESM modules (the package types only its main entry).
declare module 'twitter-text/dist/esm/parseTweet' {
  import { parseTweet } from 'twitter-text';
  export default parseTweet;
}
declare module 'twitter-text/dist/esm/extractEntitiesWithIndices' {
  import { extractEntitiesWithIndices } from 'twitter-text';
  export default extractEntitiesWithIndices;
}
