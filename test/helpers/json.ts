/**
 * Parsed JSON that a test reads deep fields of directly (HTTP bodies, CLI --json output). Declaring each response's
 * shape would restate the API in every assertion; the assertions themselves are the check, so this one alias stands
 * in for "unvalidated JSON" across the tests, with the lint rule waived here alone.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;
