/**
 * The shape every benchmark module returns to `bench/run.ts`.
 *
 * @module
 */

/** The results of one benchmark, rendered by `bench/run.ts` into `bench/results/<name>.md`. */
export interface BenchResult {
  /** Heading of the results file. */
  readonly title: string;
  /** Markdown describing what is measured and how (layout, iterations, what the timer covers). */
  readonly method: string;
  /** Column headings of the results table. */
  readonly columns: readonly string[];
  /** One row per measurement, already formatted. */
  readonly rows: readonly (readonly string[])[];
  /** Closing lines, e.g. whether each target was met. */
  readonly summary: readonly string[];
}

/** A benchmark as listed in `bench/run.ts`: its file name under results/ and its entry point. */
export interface BenchModule {
  /** Results go to `bench/results/<name>.md`; also the name accepted on the command line. */
  readonly name: string;
  /** Runs the benchmark with the command line's `--` flags and returns its results. */
  readonly run: (flags: readonly string[]) => BenchResult | Promise<BenchResult>;
}
