/**
 * An in-process record of who owns each slot, fed by every manager's callbacks: flags a slot
 * acquired while another member's signal for it has not aborted, and a token that does not
 * increase.
 */
export class Ledger {
  readonly owners = new Map<number, { id: string; token: number; signal: AbortSignal }>();
  readonly lastToken = new Map<number, number>();
  readonly violations: string[] = [];
  acquisitions = 0;

  acquired(id: string, slot: number, token: number, signal: AbortSignal): void {
    this.acquisitions++;
    const cur = this.owners.get(slot);
    if (cur !== undefined && cur.id !== id && !cur.signal.aborted)
      this.violations.push(`slot ${slot}: ${id} acquired while ${cur.id} still owned it`);
    const last = this.lastToken.get(slot) ?? 0;
    if (token <= last) this.violations.push(`slot ${slot}: token ${token} after ${last}`);
    this.lastToken.set(slot, token);
    this.owners.set(slot, { id, token, signal });
  }

  released(id: string, slot: number): void {
    if (this.owners.get(slot)?.id === id) this.owners.delete(slot);
  }
}
