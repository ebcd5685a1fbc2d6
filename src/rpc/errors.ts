// Failures of the RPC layer itself, as opposed to XenAPI errors (model/errors.ts ApiError).

/**
 * A request body that cannot be decoded (bad XML/JSON, wrong envelope). xapi answers these with
 * HTTP 500 and an HTML page instead of an API error, and so do we.
 */
export class MalformedRequest extends Error {
  override readonly name = 'MalformedRequest';
}
