/** Thrown when the test control plane cannot be built, started, reached or configured. */
export class ControlPlaneError extends Error {
  /**
   * Creates the error.
   *
   * @param message what failed, sentence case without a final period
   * @param options the underlying cause, if any
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ControlPlaneError";
  }
}
