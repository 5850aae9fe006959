/**
 * Timing constants of the allocation design (docs/architecture.md, rules 2 and 6).
 *
 * @module
 */

/** Rule 2: a reserved port is not written into a HostPort more than this long after it committed. */
export const DEFAULT_RESERVATION_TTL_MS = 30_000;

/** The API server's default request timeout: a write sent before it can still land this late. */
export const API_SERVER_REQUEST_TIMEOUT_MS = 60_000;

/**
 * Rule 6: a leak candidate is freed only once its sightings span more than this, so that no
 * status write carrying the port can still be in flight. Also how long allocation pauses after
 * repair re-created a deleted record (a rival's reservations made after our last read must show
 * in the HostPorts first).
 */
export const DEFAULT_LEAK_HOLDOFF_MS = DEFAULT_RESERVATION_TTL_MS + API_SERVER_REQUEST_TIMEOUT_MS;

/**
 * Rule 6: consecutive repair passes that must see a port reserved and unowned before it is freed
 * (their sightings spanning more than the holdoff). Two suffice: the first proves the port was
 * reserved before it, and the holdoff then covers every write that could carry it. The repair
 * loop runs the second pass as soon as the holdoff of the earliest candidate ends, so a port
 * stranded by a crash is back in the pool about the holdoff after the restart.
 */
export const LEAK_SIGHTINGS_BEFORE_FREE = 2;
