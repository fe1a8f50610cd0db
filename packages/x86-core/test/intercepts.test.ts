import { describe, expect, it } from 'vitest';
import { CODE, createMachine } from './support/machine.js';

// Each intercept stops run() before its instruction takes effect, with EIP at the instruction and the
// detail a VMM needs to resume, emulate (skipInstruction) or inject an event.

describe('intercepts', () => {
  it('exceptions by vector: #UD stops with the vector, other vectors are delivered', () => {
    const m = createMachine('real');
    m.cpu.intercepts.exceptions = 1 << 6;
    m.load([0x90, 0x0f, 0x0b]); // nop; ud2
    expect(m.cpu.run(10)).toBe('exception');
    expect(m.cpu.stop.vector).toBe(6);
    expect(m.cpu.stop.errorCode).toBe(-1);
    expect(m.cpu.eip).toBe(CODE + 1);
    // The VMM injects it instead: real-mode delivery through the IVT.
    m.cpu.intercepts.exceptions = 0;
    m.memory.write16(6 * 4, 0x3000);
    m.memory.writeBytes(0x3000, Uint8Array.from([0xf4]));
    m.cpu.injectException(6);
    expect(m.cpu.run(10)).toBe('hlt');
    expect(m.cpu.eip).toBe(0x3001);
    expect(m.memory.read16(m.cpu.reg16[8])).toBe(CODE + 1);
  });

  it('the single-step trap is intercepted as #DB after the instruction, with DR6.BS set', () => {
    const m = createMachine('real');
    m.cpu.intercepts.exceptions = 1 << 1;
    m.load([0x90, 0x90, 0x90]);
    m.cpu.setEflags(m.cpu.getEflags() | 0x100);
    expect(m.cpu.run(10)).toBe('exception');
    expect(m.cpu.stop.vector).toBe(1);
    expect(m.cpu.stop.errorCode).toBe(-1);
    expect(m.cpu.eip).toBe(CODE + 1);
    expect(m.cpu.dr[6] & 0x4000).toBe(0x4000);
  });

  it('a stopped instruction takes its single-step trap only once it completes: after the VMM skips it, or after it runs again', () => {
    const m = createMachine('real');
    m.cpu.intercepts.exceptions = 1 << 1;
    m.cpu.intercepts.ioAll = true;
    m.load([0xe6, 0x80, 0xe6, 0x81, 0x90]); // out 0x80,al; out 0x81,al; nop
    m.cpu.setEflags(m.cpu.getEflags() | 0x100);
    expect(m.cpu.run(10)).toBe('io');
    expect(m.cpu.eip).toBe(CODE);
    // Emulated by the VMM: the trap follows, after the OUT.
    m.cpu.skipInstruction(m.cpu.stop.length);
    expect(m.cpu.run(10)).toBe('exception');
    expect([m.cpu.stop.vector, m.cpu.eip]).toEqual([1, CODE + 2]);
    // Stopped again, and this time left to run again (as after a clock sync): no trap before it.
    expect(m.cpu.run(10)).toBe('io');
    expect(m.cpu.eip).toBe(CODE + 2);
    m.cpu.intercepts.ioAll = false;
    expect(m.cpu.run(10)).toBe('exception');
    expect([m.cpu.stop.vector, m.cpu.eip]).toEqual([1, CODE + 4]);
    expect(m.ports.length).toBe(1);
  });

  it('#PF carries its error code and CR2', () => {
    const m = createMachine('flat32');
    // Paging on with an empty page directory at 0x10000: every access faults.
    m.cpu.cr3 = 0x10000;
    m.cpu.cr0 |= 0x80000000;
    m.cpu.modeChanged();
    m.cpu.intercepts.exceptions = 1 << 14;
    m.cpu.eip = 0x400000;
    expect(m.cpu.run(10)).toBe('exception');
    expect(m.cpu.stop.vector).toBe(14);
    expect(m.cpu.stop.errorCode).toBe(0); // supervisor read/fetch of a not-present page
    expect(m.cpu.stop.address).toBe(0x400000);
    expect(m.cpu.cr2).toBe(0x400000);
  });

  it('external interrupts: stops without acknowledging when IF=1 and INTR is up', () => {
    let acks = 0;
    const m = createMachine('real', { pending: () => true, acknowledge: () => (acks++, 0x20) });
    m.cpu.intercepts.externalInterrupts = true;
    m.load([0xfb, 0x90, 0x90]); // sti; nop; nop
    expect(m.cpu.run(10)).toBe('interrupt');
    expect(acks).toBe(0);
    expect(m.cpu.eip).toBe(CODE + 2); // after STI and the instruction in its shadow
  });

  it('HLT: stops at the HLT with its length; skipInstruction emulates it', () => {
    const m = createMachine('real');
    m.cpu.intercepts.hlt = true;
    m.load([0x90, 0xf4, 0x90, 0xf4]);
    expect(m.cpu.run(10)).toBe('hlt');
    expect(m.cpu.eip).toBe(CODE + 1);
    expect(m.cpu.stop.length).toBe(1);
    expect(m.cpu.halted).toBe(false);
    m.cpu.skipInstruction(m.cpu.stop.length);
    expect(m.cpu.run(10)).toBe('hlt');
    expect(m.cpu.eip).toBe(CODE + 3);
  });

  it('port I/O, all ports: OUT stops with port, size and direction before reaching the bus', () => {
    const m = createMachine('real');
    m.cpu.intercepts.ioAll = true;
    m.load([0xb0, 0x41, 0xe6, 0x80, 0x66, 0xed, 0xf4]); // mov al,'A'; out 0x80,al; in eax,dx; hlt
    m.cpu.reg16[4] = 0x3f8;
    expect(m.cpu.run(10)).toBe('io');
    const stop = m.cpu.stop;
    expect([stop.port, stop.size, stop.write, stop.string, stop.length]).toEqual([0x80, 1, true, false, 2]);
    expect(m.cpu.eip).toBe(CODE + 2);
    expect(m.ports).toEqual([]);
    m.cpu.skipInstruction(stop.length);
    expect(m.cpu.run(10)).toBe('io');
    expect([stop.port, stop.size, stop.write, stop.length]).toEqual([0x3f8, 4, false, 2]);
    // The VMM emulates the IN: loads EAX and skips it.
    m.cpu.reg32[0] = 0x1234;
    m.cpu.skipInstruction(stop.length);
    expect(m.cpu.run(10)).toBe('hlt');
    expect(m.cpu.reg32[0]).toBe(0x1234);
  });

  it('port I/O by bitmap: only the chosen ports stop; the rest go to the bus', () => {
    const m = createMachine('real');
    m.cpu.intercepts.interceptPort(0x81);
    m.load([0xe6, 0x80, 0xe6, 0x81, 0xf4]); // out 0x80,al; out 0x81,al
    expect(m.cpu.run(10)).toBe('io');
    expect(m.cpu.stop.port).toBe(0x81);
    expect(m.ports.map((p) => p.port)).toEqual([0x80]);
  });

  it('string port I/O reports string and REP', () => {
    const m = createMachine('real');
    m.cpu.intercepts.ioAll = true;
    m.load([0xf3, 0x6e]); // rep outsb
    m.cpu.reg16[4] = 0x3f8;
    m.cpu.reg16[2] = 5;
    expect(m.cpu.run(10)).toBe('io');
    expect([m.cpu.stop.string, m.cpu.stop.repeat, m.cpu.stop.length]).toEqual([true, true, 2]);
    expect(m.cpu.reg16[2]).toBe(5);
  });

  it('without intercepts port I/O goes straight to the bus and is counted', () => {
    const m = createMachine('real');
    m.load([0xe6, 0x80, 0xe6, 0x80, 0xe4, 0x60, 0xf4]); // out 0x80,al x2; in al,0x60
    m.portValue = 0x5a;
    expect(m.cpu.run(10)).toBe('hlt');
    expect(m.ports.map((p) => [p.port, p.write])).toEqual([[0x80, true], [0x80, true], [0x60, false]]);
    expect(m.cpu.reg8[0]).toBe(0x5a);
    expect(m.cpu.ioCount[0x80]).toBe(2);
  });

  it('CPUID: stops with length 2; the VMM supplies the leaf', () => {
    const m = createMachine('flat32');
    m.cpu.intercepts.cpuid = true;
    m.load([0x0f, 0xa2, 0xf4]);
    expect(m.cpu.run(10)).toBe('cpuid');
    expect(m.cpu.stop.length).toBe(2);
    m.cpu.reg32[3] = 0x4b4d564b; // "KVMK"
    m.cpu.skipInstruction(2);
    expect(m.cpu.run(10)).toBe('hlt');
    expect(m.cpu.reg32[3]).toBe(0x4b4d564b);
  });

  it('RDMSR and WRMSR stop with the MSR number', () => {
    const m = createMachine('flat32');
    m.cpu.intercepts.msr = true;
    m.load([0x0f, 0x32, 0x0f, 0x30]);
    m.cpu.reg32[1] = 0x1b;
    expect(m.cpu.run(10)).toBe('rdmsr');
    expect(m.cpu.stop.msr).toBe(0x1b);
    m.cpu.skipInstruction(2);
    expect(m.cpu.run(10)).toBe('wrmsr');
  });

  it('control-register reads and writes stop with the CR and the general register', () => {
    const m = createMachine('flat32');
    m.cpu.intercepts.crWrite = 1 << 0;
    m.cpu.intercepts.crRead = 1 << 3;
    m.load([0x0f, 0x20, 0xdb, 0x0f, 0x22, 0xc1]); // mov ebx, cr3; mov cr0, ecx
    expect(m.cpu.run(10)).toBe('cr-read');
    expect([m.cpu.stop.cr, m.cpu.stop.gpr]).toEqual([3, 3]);
    m.cpu.skipInstruction(m.cpu.stop.length);
    const cr0 = m.cpu.cr0;
    expect(m.cpu.run(10)).toBe('cr-write');
    expect([m.cpu.stop.cr, m.cpu.stop.gpr, m.cpu.stop.length]).toEqual([0, 1, 3]);
    expect(m.cpu.cr0).toBe(cr0);
  });

  it('descriptor-table register access (LGDT) stops before loading GDTR', () => {
    const m = createMachine('flat32');
    m.cpu.intercepts.descriptorTables = true;
    m.memory.write16(0x2000, 0x17);
    m.memory.write32(0x2002, 0x5000);
    m.load([0x0f, 0x01, 0x15, 0x00, 0x20, 0x00, 0x00]); // lgdt [0x2000]
    const before = m.cpu.gdtrBase;
    expect(m.cpu.run(10)).toBe('dtr');
    expect(m.cpu.stop.length).toBe(7);
    expect(m.cpu.gdtrBase).toBe(before);
    m.cpu.intercepts.descriptorTables = false;
    m.cpu.run(1);
    expect([m.cpu.gdtrBase, m.cpu.gdtrLimit]).toEqual([0x5000, 0x17]);
  });

  it('INVLPG stops with the linear address', () => {
    const m = createMachine('flat32');
    m.cpu.intercepts.invlpg = true;
    m.load([0x0f, 0x01, 0x38]); // invlpg [eax]
    m.cpu.reg32[0] = 0x123456;
    expect(m.cpu.run(10)).toBe('invlpg');
    expect(m.cpu.stop.msr).toBe(0x123456);
    expect(m.cpu.stop.length).toBe(3);
  });

  it('a chosen opcode (INT3 here, or a two-byte one) stops before executing', () => {
    const m = createMachine('real');
    m.cpu.intercepts.interceptOpcode(0xcc);
    m.cpu.intercepts.interceptOpcode(0x100 | 0x0b);
    m.load([0x90, 0xcc, 0x0f, 0x0b]);
    expect(m.cpu.run(10)).toBe('opcode');
    expect([m.cpu.stop.opcode, m.cpu.eip, m.cpu.stop.length]).toEqual([0xcc, CODE + 1, 1]);
    m.cpu.skipInstruction(1);
    expect(m.cpu.run(10)).toBe('opcode');
    expect([m.cpu.stop.opcode, m.cpu.stop.length]).toEqual([0x10b, 2]);
  });

  it('an interrupt-window request stops once IF=1', () => {
    const m = createMachine('real');
    m.cpu.interruptWindowRequested = true;
    m.load([0x90, 0xfb, 0x90, 0x90]);
    expect(m.cpu.run(10)).toBe('irq-window');
    expect(m.cpu.eip).toBe(CODE + 3);
  });
});
