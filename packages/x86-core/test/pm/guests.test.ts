import { describe, expect, it } from 'vitest';
import { hex, runGuest } from './machine.js';

// Each guest (guests/<name>.S) reports values on port 0xE4; a fault reports its vector, then its error
// code (vectors 8, 10-14, 17), then CR2 (vector 14). The sources carry the same values as comments.
const GP = 13;
const NP = 11;
const SS = 12;
const TS = 10;
const PF = 14;

describe('protected-mode guests', () => {
  it('segments: entering protected mode, descriptor queries, LDT, expand-down, limits, accessed bits', () => {
    const run = runGuest('segments');
    expect(hex(run.reports)).toEqual(hex([
      0x60000011, 0x28, 0, 0xff, // CR0, STR, SLDT, SGDT limit
      0x7ff, 0x11, 0x9, 0x1, // SIDT limit, SMSW, LMSW setting TS, CLTS
      0x00c09b00, 1, 0x00008b00, 1, 0, 0xffffffff, 0x2068, // LAR code, LAR busy TSS, LAR beyond GDT, LSL
      1, 0, 1, 1, 0x13, // VERR code, VERW code, VERW data, ARPL
      0x30, 0x12345678, // LLDT/SLDT and a load through the LDT
      0xabcd, GP, 0, // expand-down: above the limit works, below faults
      0x92, 0x93, GP, 0, // accessed bit set by the load; an access crossing the limit
    ]));
    expect(run.done).toBe(true);
  });

  it('gates: interrupt/trap gates, ring 3 via IRET and back via INT, call gate with parameters', () => {
    const run = runGuest('gates');
    expect(hex(run.reports)).toEqual(hex([
      0x41, 0x200, 0, // interrupt gate: IF pushed set, cleared inside
      0x42, 0x200, 0x200, // trap gate: IF kept
      0x1b, 0x23, // ring 3 CS, SS
      0x80, 0x1b, 0x38000, 0x23, 0x2ffe8, // INT 0x80: ring-3 CS/ESP/SS on the TSS's ring-0 stack
      GP, 0x81 * 8 + 2, GP, 3 * 8 + 2, // INT n / INT3 through DPL-0 gates from ring 3
      0x08, 0x10, 0x1b, 0x2222, 0x1111, 0x37ff8, 0x23, 0x2ffe8, // call gate: ring 0, params copied
      0x38000, 0x80, // RET 8 released the parameters on both stacks
      0x3b, GP, 0x08, // conforming code keeps CPL 3; direct call to ring 0 faults
      0, GP, 0x10, // IRET to ring 3 nulled DS; ring 3 cannot load a DPL-0 segment
    ]));
    expect(run.done).toBe(true);
  });

  it('faults: #GP/#SS/#NP/#TS with their error codes', () => {
    const run = runGuest('faults');
    expect(hex(run.reports)).toEqual(hex([
      GP, 0x100, GP, 0x30, NP, 0x40, // DS/ES: beyond GDT, execute-only, not present
      GP, 0, GP, 0x38, SS, 0x40, GP, 0x10, // SS: null, read-only, not present, RPL
      GP, 0x50 * 8 + 2, NP, 0x51 * 8 + 2, GP, 0x52 * 8 + 2, GP, 0, GP, 0x10, // IDT checks
      GP, 0x10, NP, 0x68, GP, 0, // far JMP: data, not present, beyond limit
      TS, 0, TS, 0x10, TS, 0x48, // call gate to ring 1: SS1 null, RPL 3, DPL 0
      0x51, 0x61, 0x80, // ... and with a good SS1
      GP, 0x10, GP, 0x28, // LTR data, LLDT TSS
      GP, 0, // MOV from CR0 at CPL 3
    ]));
    expect(run.done).toBe(true);
  });

  it('strict: null segment use, SS limit, CR0/CR4 rules, LTR of a null selector', () => {
    const run = runGuest('strict');
    expect(hex(run.reports)).toEqual(hex([
      GP, 0, SS, 0, // null DS used; beyond the SS limit
      GP, 0, GP, 0, GP, 0, // reserved CR4 bit, PG without PE, NW without CD
      GP, 0, // LTR 0
    ]));
    expect(run.done).toBe(true);
  });

  it('paging: #PF error codes and CR2, WP, user/supervisor, A/D bits, INVLPG', () => {
    const run = runGuest('paging');
    expect(hex(run.reports)).toEqual(hex([
      0, 0x20, 0x20, 0x60, // PTE A/D: none, A after a read, PDE A, A|D after a write
      PF, 0, 0x300000, PF, 2, 0x300008, PF, 0, 0x300000, PF, 0, 0x800000, // not present
      0x1234, PF, 3, 0x301004, // WP=0 lets ring 0 write a read-only page, WP=1 does not
      PF, 5, 0x303000, 0x1234, PF, 7, 0x301000, // user read of a supervisor page, user write to read-only
      0x4444, 0x5555, // INVLPG after remapping
    ]));
    expect(run.done).toBe(true);
  });

  it('tasks: JMP/CALL/IRET/INT task switches, busy bits, NT, back link, 16-bit TSS, LDT, CR3, #TS', () => {
    const run = runGuest('tasks');
    expect(hex(run.reports)).toEqual(hex([
      0x30, 0x48, 0x89, 0x8b, 0, 0x77, // JMP: new TR and LDTR, old TSS available, new busy, no NT
      0x28, 0x89, 0xfeed, // back: TR, the other TSS available, EBP restored
      0x4000, 0x28, 0x8b, 0, 0x89, // CALL: NT, back link, caller busy; after IRET
      0x4000, 0x28, 0x28, // INT through a task gate
      0, 0x30, 0x28, // JMP through a GDT task gate
      0x40, 0x8b, 0x28, 0x81, // 16-bit TSS
      TS, 0x38, GP, 0x28, TS, 0x30, // short TSS, busy TSS, IRET to an available back link
      0x2222, 0x42000, 0x1111, 0x40000, // CR3 from each TSS
      0x10, 0x58, 0x30, // #TS(CS) in the new task, through a task gate
    ]));
    expect(run.done).toBe(true);
  });

  it('sysenter: SEP, the MSRs, #GP(0) with SYSENTER_CS 0 and SYSEXIT at CPL 3, round trips', () => {
    const run = runGuest('sysenter');
    expect(hex(run.reports)).toEqual(hex([
      0x800, 0x12345678, 0, 0x9abcdef0, // CPUID.01H:EDX.SEP; ESP and EIP MSRs read back
      GP, 0, GP, 0, GP, 0, // SYSENTER_CS 0: SYSEXIT, SYSENTER at CPL 0 and at CPL 3
      GP, 0, // SYSEXIT at CPL 3
      0x893, 0x08, 0x10, 0, 0x2f000, 0x37000, // in: IF cleared, CS/SS from the MSR, DS kept, ESP
      0x8d7, 0x1b, 0x23, 0x37000, 0x80, // out: flags untouched, CS + 16 | 3, SS + 24 | 3, ESP = ECX
      1000, 0x38000, 0x1b, 0x23, 0x80, // 1000 round trips with SYSENTER_CS 0x0b
      1, 0x1b, 0x80, // SYSENTER from CPL 0, SYSEXIT to ring 3
    ]));
    expect(run.done).toBe(true);
  });

  it('privilege: 16-bit gate from ring 3, same-level call gate, conforming handler, RET outward, POPF/CLI, TI', () => {
    const run = runGuest('privilege');
    expect(hex(run.reports)).toEqual(hex([
      0x60, 1, 0x1b, 0x2, 0x8000, 0x23, // 16-bit frame: IP, CS, FLAGS, SP (low half of ESP), SS
      0x08, 0, // same-level call gate; RET balanced the stack
      0x3b, 0x37ff4, 0x80, // conforming handler at CPL 3 on the ring-3 stack
      0, 0x23, 0x80, // RET far to ring 3 nulled ES, kept DS
      0, 0x80, 0x3200, 0x80, // POPF at IOPL 0 changes neither IF nor IOPL; at IOPL 3 IF only
      GP, 0, // CLI at CPL 3, IOPL 0
      GP, 0x14, NP, 0x0c, GP, 0x04, // LDT selectors: beyond the limit, not present, no LDT
    ]));
    expect(run.done).toBe(true);
  });

  it('descriptor-paging: descriptor reads and accessed-bit writes go through paging as supervisor accesses', () => {
    const run = runGuest('descriptor-paging');
    expect(hex(run.reports)).toEqual(hex([
      PF, 0, 0x307000, // LDT in a not-present page
      PF, 3, 0x306005, // accessed bit written to a read-only page with WP set (the access byte, as Bochs)
      0x93,
    ]));
    expect(run.done).toBe(true);
  });

  it('pf-double: a page fault while delivering a page fault is #DF', () => {
    const run = runGuest('pf-double');
    expect(hex(run.reports)).toEqual(hex([0, 0x4fffc, 0x1b])); // #DF error code, CR2, interrupted CS
    expect(run.done).toBe(true);
  });

  it('task-trap: the TSS T bit raises #DB with DR6.BT before the new task\'s first instruction', () => {
    const run = runGuest('task-trap');
    expect(hex(run.reports)).toEqual(hex([1, 0x8000, 1, 0x30, 0x28]));
    expect(run.done).toBe(true);
  });

  it('io: IOPL against CPL and the TSS I/O bitmap', () => {
    const run = runGuest('io');
    expect(hex(run.reports)).toEqual(hex([
      0x60, // ring 0, IOPL 0
      0x61, 0x5c, 0x6f, 0x80, // ring 3, IOPL 0: allowed ports
      GP, 0, GP, 0, GP, 0, GP, 0, // denied: byte, word straddling, OUT, DX form
      0x360, 0x80, // IOPL 3
      0x80, 0xff, GP, 0, GP, 0, // a bitmap cut short by the TSS limit
    ]));
    expect(run.done).toBe(true);
  });

  it('v86: IRET into v86 mode, INT through a ring-0 gate and back, IOPL-sensitive #GP(0)', () => {
    const run = runGuest('v86');
    expect(hex(run.reports)).toEqual(hex([
      0x4141, GP, 0, 0x100, 0x20000, 0x700, 0x40, // DS=0x40 reads linear 0x410; INT n at IOPL 0
      GP, 0, GP, 0, GP, 0, GP, 0, GP, 0, // CLI STI PUSHF POPF IRET at IOPL 0
      3, 0x100, // INT3 at IOPL 0 goes through its DPL-3 gate to ring 0
      0x3000, 0x1e7, // IOPL 3: flags readable, IRET within v86
      0x31, 0x100, 0x23000, 0x40, 0x08, // INT 0x31 frame in the ring-0 handler
      0x31, 0x32, 0x100, // back in v86 after the handler's IRET, then out through INT 0x32
    ]));
    expect(run.done).toBe(true);
  });

  it('double-fault: serial delivery, #DF through a task gate, triple fault shuts down', () => {
    const run = runGuest('double-fault');
    expect(hex(run.reports)).toEqual(hex([
      NP, 6 * 8 + 2 + 1, // #UD through a not-present gate: #NP with IDT and EXT set
      0, 0x30, 0x4000, 0x28, // #DF task: error code 0, TR, NT, back link
      0x7f, // about to fault with an empty IDT
    ]));
    expect(run.reason).toBe('shutdown');
    expect(run.cpu.stop.detail).toBe('triple-fault');
    expect(run.done).toBe(false);
  });

  it('task-triple: a triple fault raised inside a task switch (after its commit point) shuts down', () => {
    const run = runGuest('task-triple');
    expect(hex(run.reports)).toEqual(hex([0x7f])); // about to JMP to a TSS whose CS is a data segment
    expect(run.reason).toBe('shutdown');
    expect(run.cpu.stop.detail).toBe('triple-fault');
    expect(run.done).toBe(false);
  });

  it('tf-fault: no single-step trap for an instruction that faults; only its #UD is delivered', () => {
    const run = runGuest('tf-fault');
    expect(hex(run.reports)).toEqual(hex([6, 0x600d]));
    expect(run.done).toBe(true);
  });

  // The random guests' reports are checked against QEMU (qemu-differential.test.ts); here they must at
  // least run their hostile inputs to the end without a host error, a hang or a shutdown.
  for (const name of ['descriptors', 'transfers', 'transfers-paged', 'task-fuzz', 'v86-fuzz']) {
    it(`${name}: random descriptors, gates and frames run to completion`, { timeout: 30_000 }, () => {
      const run = runGuest(name, 20_000_000);
      expect(run.reason).toBe('hlt');
      expect(run.done).toBe(true);
      expect(run.reports.length).toBeGreaterThan(1000);
    });
  }
});
