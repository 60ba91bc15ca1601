/**
 * Reconnect delay after `attempt` consecutive failures (0-based): exponential from `minMs`, capped
 * at `maxMs`, with "equal jitter" (half fixed, half random) so a fleet that lost its broker does
 * not reconnect in lock-step, yet no device retries faster than half the schedule. Pure.
 */
export function backoffDelayMs(attempt: number, minMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** MQTT CONNACK codes that mean "this broker does not speak the protocol version you asked for". */
export function isProtocolRefusal(code: number | undefined): boolean {
  // 1: MQTT 3.1.1 "unacceptable protocol version" (aedes answers an MQTT 5 CONNECT with it);
  // 132 (0x84): MQTT 5 "unsupported protocol version".
  return code === 1 || code === 132;
}

/** CONNACK codes of a refused login: retrying faster will not help, the operator must act. */
export function isAuthRefusal(code: number | undefined): boolean {
  return code === 4 || code === 5 || code === 134 || code === 135;
}

/** MQTT 5 DISCONNECT reason 142: another connection with the same client id took the session over. */
export const SESSION_TAKEN_OVER = 142;

export interface SessionOutcome {
  /** How long the connection lasted, ms. */
  livedMs: number;
  /** MQTT 5 DISCONNECT reason code sent by the broker, if any. */
  disconnectReason?: number;
}

/**
 * Watches consecutive short sessions to recognise two agents fighting over one client id: with
 * MQTT 5 the broker says so (reason 142); with 3.1.1 it just closes the socket, so `threshold`
 * connections in a row that the broker ended before `stableMs` count as a suspected conflict.
 * Pure state machine, no clock.
 */
export class TakeoverDetector {
  private shortInARow = 0;

  constructor(
    private readonly stableMs: number,
    private readonly threshold = 3,
  ) {}

  /** Feeds one ended session; returns the conflict verdict for it. */
  observe(outcome: SessionOutcome): 'none' | 'suspected' | 'confirmed' {
    if (outcome.disconnectReason === SESSION_TAKEN_OVER) {
      this.shortInARow++;
      return 'confirmed';
    }
    if (outcome.livedMs >= this.stableMs) {
      this.shortInARow = 0;
      return 'none';
    }
    this.shortInARow++;
    return this.shortInARow >= this.threshold ? 'suspected' : 'none';
  }

  reset(): void {
    this.shortInARow = 0;
  }
}
