/**
 * The failure converter of client, worker and workflow bundle (loaded by path: the SDK bundles it
 * into the workflow sandbox, so this module imports nothing but @temporalio/common). With
 * `encodeCommonAttributes`, failure messages and stack traces move into a payload, which the
 * payload codec then encrypts; the history keeps only "Encoded failure" in plain text.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
