/**
 * Custom search attributes for post workflows. Workflow-safe: imports @temporalio/common only.
 * Never put post text here: search attributes are not encrypted.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const BusinessIdAttribute = defineSearchAttributeKey('HeraldBusinessId', SearchAttributeType.INT);
export const PlatformsAttribute = defineSearchAttributeKey('HeraldPlatforms', SearchAttributeType.KEYWORD_LIST);
export const ScheduledForAttribute = defineSearchAttributeKey('HeraldScheduledFor', SearchAttributeType.DATETIME);
export const PostStatusAttribute = defineSearchAttributeKey('HeraldPostStatus', SearchAttributeType.KEYWORD);

/** For `temporal server start-dev --search-attribute` and `temporal operator search-attribute create`. */
export const searchAttributeDeclarations: Record<string, 'Int' | 'KeywordList' | 'Datetime' | 'Keyword'> = {
  HeraldBusinessId: 'Int',
  HeraldPlatforms: 'KeywordList',
  HeraldScheduledFor: 'Datetime',
  HeraldPostStatus: 'Keyword',
};
