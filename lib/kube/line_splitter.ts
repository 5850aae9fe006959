/**
 * Splits a byte stream into text lines (the watch protocol sends one JSON object per
 * line). Chunks may end mid-line or mid-character; blank lines are dropped.
 *
 * @module
 */

/** Incremental splitter: feed chunks, get the lines they complete. */
export class LineSplitter {
  #decoder = new TextDecoder();
  #partial = "";

  /** Adds a chunk and returns the lines it completes, without their line endings. */
  push(chunk: Uint8Array | string): string[] {
    const text = typeof chunk === "string" ? chunk : this.#decoder.decode(chunk, { stream: true });
    const parts = (this.#partial + text).split("\n");
    this.#partial = parts.pop() ?? "";
    return clean(parts);
  }

  /** Ends the input and returns the last line if it had no final newline. */
  end(): string[] {
    const rest = this.#partial + this.#decoder.decode();
    this.#partial = "";
    return clean([rest]);
  }
}

function clean(lines: string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const trimmed = line.endsWith("\r") ? line.slice(0, -1) : line;
    if (trimmed.trim() !== "") out.push(trimmed);
  }
  return out;
}

/** A `TransformStream` from bytes to lines, built on `LineSplitter`. */
export function lineSplitterStream(): TransformStream<Uint8Array, string> {
  const splitter = new LineSplitter();
  return new TransformStream({
    transform(chunk, controller) {
      for (const line of splitter.push(chunk)) controller.enqueue(line);
    },
    flush(controller) {
      for (const line of splitter.end()) controller.enqueue(line);
    },
  });
}
