/**
 * An error caused by the user's input or environment (bad flag, bad file, unreachable database).
 * The CLI prints its message without a stack trace; the HTTP layer maps it to a 4xx.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly code: string = 'bad_input',
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'UserError';
  }
}
