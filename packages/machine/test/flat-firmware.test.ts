import { describe, expect, it } from 'vitest';
import { BOOT_CS, BOOT_DS, LoaderError, firmwareEntry, loadFlatBinary, pcMemoryMap } from '../src/index.js';
import { TestMemory } from './support/test-memory.js';

const memory = (): TestMemory => new TestMemory(pcMemoryMap({ ramSize: 4 * 1024 * 1024 }).regions);

describe('flat binary loader', () => {
  it('loads a boot-sector style image for real mode at 0000:7C00', () => {
    const mem = memory();
    const state = loadFlatBinary(mem, Uint8Array.of(0xf4, 0x90), { address: 0x7c00, mode: 'real' });
    expect(mem.read16(0x7c00)).toBe(0x90f4);
    expect(state.sregs.cs).toMatchObject({ selector: 0, base: 0, limit: 0xffff });
    expect(state.regs.eip).toBe(0x7c00);
    expect(state.regs.esp).toBe(0x7c00);
    expect(state.sregs.cr0 & 1).toBe(0);
  });

  it('uses a paragraph segment for real-mode entries above 64 KiB', () => {
    const state = loadFlatBinary(memory(), new Uint8Array(32), { address: 0x12340, mode: 'real', entry: 0x12345, stackTop: 0x8000 });
    expect(state.sregs.cs.selector).toBe(0x1234);
    expect(state.sregs.cs.base).toBe(0x12340);
    expect(state.regs.eip).toBe(5);
  });

  it('enters flat 32-bit protected mode through a boot GDT in guest memory', () => {
    const mem = memory();
    const state = loadFlatBinary(mem, new Uint8Array(16), { address: 0x100000, mode: 'protected', stackTop: 0x90000 });
    expect(state.regs).toMatchObject({ eip: 0x100000, esp: 0x90000, eflags: 2 });
    expect(state.sregs.cs).toMatchObject({ selector: BOOT_CS, base: 0, limit: 0xffffffff, access: 0xc09b });
    expect(state.sregs.ds).toMatchObject({ selector: BOOT_DS, access: 0xc093 });
    expect(state.sregs.cr0 & 1).toBe(1);
    expect(mem.readU64(state.sregs.gdt.base + BOOT_CS)).toBe(0x00cf9b000000ffffn);
    expect(mem.readU64(state.sregs.gdt.base + BOOT_DS)).toBe(0x00cf93000000ffffn);
  });

  it('rejects images outside RAM, beyond 1 MiB in real mode, or with a bad entry', () => {
    expect(() => loadFlatBinary(memory(), new Uint8Array(16), { address: 0xa0000, mode: 'protected' })).toThrow(/outside guest RAM/);
    expect(() => loadFlatBinary(memory(), new Uint8Array(16), { address: 0x100000, mode: 'real' })).toThrow(LoaderError);
    expect(() => loadFlatBinary(memory(), new Uint8Array(16), { address: 0x8000, mode: 'real', entry: 0x9000 })).toThrow(/entry/);
    expect(() => loadFlatBinary(memory(), new Uint8Array(16), { address: -1, mode: 'protected' })).toThrow(LoaderError);
    expect(() => loadFlatBinary(memory(), new Uint8Array(0), { address: 0x8000, mode: 'real' })).toThrow(/empty/);
  });
});

describe('firmware entry', () => {
  it('starts at the reset vector F000:FFF0 with CS base FFFF0000', () => {
    const state = firmwareEntry();
    expect(state.regs.eip).toBe(0xfff0);
    expect(state.sregs.cs).toMatchObject({ selector: 0xf000, base: 0xffff0000, limit: 0xffff });
    expect(state.sregs.cr0).toBe(0x60000010);
    expect(state.regs.eflags).toBe(2);
  });
});
