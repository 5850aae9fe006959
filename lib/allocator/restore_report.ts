/**
 * Input and report types of {@linkcode PortRegistry.restore}.
 *
 * @module
 */

import type { PortRange } from "./port_range.ts";

/** One port a holder (e.g. a HostPort name) already holds, for {@linkcode PortRegistry.restore}. */
export interface RestoreEntry<H> {
  /** Who holds the port; echoed in the report, never inspected. */
  readonly holder: H;
  /** The held port. */
  readonly port: number;
  /**
   * The pools the port should lie in: the holder's class's pools, or the union of every class's
   * pools to check "outside every pool". Omit it to skip the check (e.g. the class is missing).
   */
  readonly pools?: readonly PortRange[] | undefined;
}

/** A holder and its port, as listed in a {@linkcode RestoreReport}. */
export interface HolderPort<H> {
  /** The holder, as given. */
  readonly holder: H;
  /** The port, as given. */
  readonly port: number;
}

/** What {@linkcode PortRegistry.restore} found. */
export interface RestoreReport<H> {
  /** How many distinct ports are now held. */
  readonly held: number;
  /** Ports given by more than one entry, ascending, with every holder in input order. */
  readonly duplicates: readonly { readonly port: number; readonly holders: readonly H[] }[];
  /** Entries whose port is outside their `pools`; the port is held anyway. */
  readonly outsidePools: readonly HolderPort<H>[];
  /** Entries whose port is not an integer from 1 to 65535; not held. */
  readonly invalid: readonly HolderPort<H>[];
}
