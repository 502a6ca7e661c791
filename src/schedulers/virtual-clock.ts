/**
 * The virtual clock of `--clock virtual`: it stands still and moves only when told (the time-driven
 * work's `advanceTo` moves it instant by instant). [spec: test-clock#1]
 */
import type { Clock } from '../ports/clock.js'

export class VirtualClock implements Clock {
  constructor(private ms: number) {}

  nowMs(): number {
    return this.ms
  }

  /** Sets the time; it never goes back. */
  set(ms: number): void {
    if (ms > this.ms) this.ms = ms
  }
}
