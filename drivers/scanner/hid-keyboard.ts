/**
 * A 2D scanner in USB HID keyboard mode (the common POS setting): it types each code as
 * boot-keyboard reports and ends it with Enter. Such a scanner takes no commands, so enable() and
 * disable() are the driver's own gate: a code typed while disabled is decoded, zeroed and dropped.
 */
import { KeyboardDecoder } from '../keyboard/boot-keyboard.js';
import type { HidSource } from '../transport/hid.js';
import type { CodeScannerCapabilities } from './contract.js';
import { ScannerBase, type ScannerBaseOptions } from './base.js';

export interface HidKeyboardScannerOptions extends ScannerBaseOptions {
  source: HidSource;
}

class DeviceGone extends Error {}

export class HidKeyboardScanner extends ScannerBase {
  readonly capabilities: CodeScannerCapabilities = { commands: false };
  private readonly source: HidSource;
  private readonly keyboard: KeyboardDecoder;
  private gone = false;

  constructor(opts: HidKeyboardScannerOptions) {
    super({ ...opts, label: 'scanner hid-keyboard', link: opts.source });
    this.source = opts.source;
    this.keyboard = new KeyboardDecoder(this.maxLength);
    this.source.on('report', (report) => this.onReport(report));
    this.source.on('close', () => {
      if (this.closed) return;
      this.gone = true;
      this.wakeLoop();
    });
    this.source.on('error', (err) => this.log('warn', `${this.label}: device error`, { error: err.message }));
  }

  async enable(): Promise<void> {
    this.drop();
    this.enabled = true;
  }

  async disable(): Promise<void> {
    this.enabled = false;
    this.drop();
  }

  protected async startUp(): Promise<void> {
    this.gone = false;
    this.drop();
    await this.source.open();
    this.setStatus({ health: 'ok', code: 'ok', detail: `reading keyboard reports on ${this.source.description}` });
  }

  protected async step(): Promise<void> {
    if (!this.ready) {
      await this.start();
      return;
    }
    if (this.gone || !this.source.isOpen) throw new DeviceGone('the scanner went away');
    await this.sleep(this.checkIntervalMs);
  }

  protected async failed(err: unknown): Promise<void> {
    this.drop();
    await this.source.close();
    this.setStatus({ health: 'offline', code: 'no-device', detail: (err as Error).message });
  }

  protected async release(): Promise<void> {
    this.drop();
    await this.source.close();
  }

  private drop(): void {
    this.clearPartial();
    this.keyboard.reset();
  }

  private onReport(report: Buffer): void {
    try {
      for (const event of this.keyboard.push(report)) this.onEntry(event);
      this.watchPartial(this.keyboard.pending, () => this.keyboard.flush());
    } finally {
      report.fill(0);
    }
  }
}
