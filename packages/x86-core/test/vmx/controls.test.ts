import { describe, expect, it } from 'vitest';
import {
  CPU_ACTIVATE_SECONDARY_CONTROLS, CPU_CR3_LOAD_EXITING, CPU_CR3_STORE_EXITING, CPU_CR8_LOAD_EXITING,
  CPU_CR8_STORE_EXITING, CPU_HLT_EXITING, CPU_INVLPG_EXITING, CPU_MONITOR_TRAP_FLAG, CPU_MOV_DR_EXITING,
  CPU_PAUSE_EXITING, CPU_RDTSC_EXITING, CPU_UNCONDITIONAL_IO_EXITING, CPU_USE_MSR_BITMAPS, ENTER_LIMIT, EXIT_REASON, EXIT_SAVE_PREEMPTION_TIMER,
  PIN_EXTERNAL_INTERRUPT_EXITING, PIN_NMI_EXITING, PIN_PREEMPTION_TIMER, SECONDARY_ENABLE_EPT, SECONDARY_ENABLE_VPID,
  SECONDARY_UNRESTRICTED_GUEST, SECONDARY_WBINVD_EXITING, VMCS,
} from '../../src/index.js';
import { CODE, VmxMachine } from './support.js';

// SDM Vol. 3C 25.6 and 26.1-26.2: each VM-execution control makes its instruction exit, with the
// basic exit reason, qualification and instruction length of Chapter 28; with the control clear
// the instruction runs in the guest. Every case ends in CPUID, which exits unconditionally, so
// "clear" is seen as the CPUID exit one instruction later.

const CPUID = [0x0f, 0xa2];
const BASE_SECONDARY = SECONDARY_ENABLE_EPT | SECONDARY_UNRESTRICTED_GUEST | SECONDARY_ENABLE_VPID;

interface Case {
  name: string;
  primary?: number;
  secondary?: number;
  exceptions?: number;
  /** Instructions before the one under test, which never exit. */
  setup?: number[];
  code: number[];
  reason: number;
  qualification?: number;
  /** VM-exit interruption information, for exception exits. */
  info?: number;
  length: number;
}

const CASES: Case[] = [
  { name: 'INVLPG exiting', primary: CPU_INVLPG_EXITING, code: [0x0f, 0x01, 0x3d, 0x00, 0x50, 0x00, 0x00], reason: EXIT_REASON.INVLPG, qualification: 0x5000, length: 7 },
  { name: 'RDTSC exiting', primary: CPU_RDTSC_EXITING, code: [0x0f, 0x31], reason: EXIT_REASON.RDTSC, length: 2 },
  // mov cr3, ebx: CR 3, access type 0 (MOV to CR), GPR 3.
  { name: 'CR3-load exiting', primary: CPU_CR3_LOAD_EXITING, code: [0x0f, 0x22, 0xdb], reason: EXIT_REASON.CR_ACCESS, qualification: 0x303, length: 3 },
  // mov ecx, cr3: CR 3, access type 1 (MOV from CR), GPR 1.
  { name: 'CR3-store exiting', primary: CPU_CR3_STORE_EXITING, code: [0x0f, 0x20, 0xd9], reason: EXIT_REASON.CR_ACCESS, qualification: 0x113, length: 3 },
  // mov dr7, eax: DR 7, direction 0 (MOV to DR), GPR 0; mov ebx, dr6: DR 6, direction 1, GPR 3.
  { name: 'MOV-DR exiting (to)', primary: CPU_MOV_DR_EXITING, code: [0x0f, 0x23, 0xf8], setup: [0xb8, 0x00, 0x04, 0, 0], reason: EXIT_REASON.DR_ACCESS, qualification: 0x007, length: 3 },
  { name: 'MOV-DR exiting (from)', primary: CPU_MOV_DR_EXITING, code: [0x0f, 0x21, 0xf3], reason: EXIT_REASON.DR_ACCESS, qualification: 0x316, length: 3 },
  // in al, 0x60: size 1 (0), IN (bit 3), immediate operand (bit 6), port 0x60.
  { name: 'unconditional I/O exiting (IN imm8)', primary: CPU_UNCONDITIONAL_IO_EXITING, code: [0xe4, 0x60], reason: EXIT_REASON.IO_INSTRUCTION, qualification: 0x00600048, length: 2 },
  // out dx, eax with DX = 0x3f8: size 4 (3), OUT, DX operand, port 0x3f8.
  { name: 'unconditional I/O exiting (OUT DX)', primary: CPU_UNCONDITIONAL_IO_EXITING, setup: [0x66, 0xba, 0xf8, 0x03], code: [0xef], reason: EXIT_REASON.IO_INSTRUCTION, qualification: 0x03f80003, length: 1 },
  { name: 'PAUSE exiting', primary: CPU_PAUSE_EXITING, setup: [0x90], code: [0xf3, 0x90], reason: EXIT_REASON.PAUSE, length: 2 },
  { name: 'WBINVD exiting', secondary: SECONDARY_WBINVD_EXITING, code: [0x0f, 0x09], reason: EXIT_REASON.WBINVD, length: 2 },
  // Exception bitmap: #UD (hardware exception, type 3), INT3 and INTO (software exceptions, type 6, with a length).
  { name: 'exception bitmap: #UD', exceptions: 1 << 6, code: [0x0f, 0x0b], reason: EXIT_REASON.EXCEPTION_OR_NMI, info: 0x80000306, length: 0 },
  { name: 'exception bitmap: INT3', exceptions: 1 << 3, code: [0xcc], reason: EXIT_REASON.EXCEPTION_OR_NMI, info: 0x80000603, length: 1 },
  // mov eax, 0x7fffffff; inc eax (OF = 1); into.
  { name: 'exception bitmap: INTO', exceptions: 1 << 4, setup: [0xb8, 0xff, 0xff, 0xff, 0x7f, 0x40], code: [0xce], reason: EXIT_REASON.EXCEPTION_OR_NMI, info: 0x80000604, length: 1 },
  { name: 'exception bitmap: ICEBP', exceptions: 1 << 1, code: [0xf1], reason: EXIT_REASON.EXCEPTION_OR_NMI, info: 0x80000501, length: 1 },
];

function machine(c: Case, on: boolean): VmxMachine {
  const m = new VmxMachine();
  const v = m.vmx.vmcs;
  v.write(VMCS.PRIMARY_PROCESSOR_CONTROLS, CPU_ACTIVATE_SECONDARY_CONTROLS | (on ? c.primary ?? 0 : 0));
  v.write(VMCS.SECONDARY_PROCESSOR_CONTROLS, BASE_SECONDARY | (on ? c.secondary ?? 0 : 0));
  v.write(VMCS.EXCEPTION_BITMAP, on ? c.exceptions ?? 0 : 0);
  // Delivered exceptions land on a handler that exits through CPUID.
  for (const vector of [1, 3, 4, 6]) m.gate(vector, 0x2000);
  m.write(0x2000, CPUID);
  m.start([...(c.setup ?? []), ...c.code, ...CPUID]);
  return m;
}

describe('VM-execution controls: each one causes its exit, and only it', () => {
  for (const c of CASES) {
    it(`${c.name}: exit reason ${c.reason} with the SDM's qualification and length`, () => {
      const m = machine(c, true);
      const at = CODE + (c.setup?.length ?? 0);
      expect(m.vmx.enter(1000)).toBe(c.reason);
      const v = m.vmx.vmcs;
      expect(m.rip).toBe(at);
      expect(m.qualification).toBe(c.qualification ?? 0);
      expect(v.read(VMCS.VM_EXIT_INSTRUCTION_LENGTH)).toBe(c.length);
      if (c.info !== undefined) expect(v.read(VMCS.VM_EXIT_INTERRUPTION_INFO)).toBe(c.info);
    });

    it(`${c.name}: with the control clear the instruction runs in the guest`, () => {
      const m = machine(c, false);
      expect(m.vmx.enter(1000)).toBe(EXIT_REASON.CPUID);
      const delivered = c.reason === EXIT_REASON.EXCEPTION_OR_NMI;
      expect(m.rip).toBe(delivered ? 0x2000 : CODE + (c.setup?.length ?? 0) + c.code.length);
    });
  }

  it('HLT exiting: exit 12 at the HLT; clear, the guest halts (activity state HLT) until the preemption timer', () => {
    const m = new VmxMachine();
    const v = m.vmx.vmcs;
    v.write(VMCS.PRIMARY_PROCESSOR_CONTROLS, CPU_ACTIVATE_SECONDARY_CONTROLS | CPU_HLT_EXITING);
    m.start([0x90, 0xf4, ...CPUID]);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.HLT);
    expect(m.rip).toBe(CODE + 1);
    expect(v.read(VMCS.VM_EXIT_INSTRUCTION_LENGTH)).toBe(1);
    expect(v.read(VMCS.GUEST_ACTIVITY_STATE)).toBe(0);

    const n = new VmxMachine();
    n.start([0x90, 0xf4, ...CPUID]);
    expect(n.vmx.enter(100)).toBe(ENTER_LIMIT);
    expect(n.vmx.vmcs.read(VMCS.GUEST_ACTIVITY_STATE)).toBe(1);
    expect(n.rip).toBe(CODE + 2);
  });

  it('monitor trap flag: an exit after each instruction', () => {
    const m = new VmxMachine();
    m.vmx.vmcs.write(VMCS.PRIMARY_PROCESSOR_CONTROLS, CPU_ACTIVATE_SECONDARY_CONTROLS | CPU_MONITOR_TRAP_FLAG);
    m.start([0x90, 0x40, 0x40, ...CPUID]);
    for (const rip of [CODE + 1, CODE + 2, CODE + 3]) {
      expect(m.vmx.enter(100)).toBe(EXIT_REASON.MONITOR_TRAP_FLAG);
      expect(m.rip).toBe(rip);
    }
    expect(m.vmx.cpu.reg32[0]).toBe(2);
  });

  it('VMCALL, INVD and CPUID exit unconditionally', () => {
    for (const [code, reason] of [[[0x0f, 0x01, 0xc1], EXIT_REASON.VMCALL], [[0x0f, 0x08], EXIT_REASON.INVD], [CPUID, EXIT_REASON.CPUID]] as const) {
      const m = new VmxMachine();
      m.start([...code, 0xf4]);
      expect(m.vmx.enter(100)).toBe(reason);
      expect(m.vmx.vmcs.read(VMCS.VM_EXIT_INSTRUCTION_LENGTH)).toBe(code.length);
      m.skip();
      expect(m.vmx.enter(100)).toBe(ENTER_LIMIT);
    }
  });

  it('exits count by basic reason', () => {
    const m = new VmxMachine();
    m.start([...CPUID, ...CPUID, 0x0f, 0x01, 0xc1]);
    m.vmx.enter(100);
    m.skip();
    m.vmx.enter(100);
    m.skip();
    m.vmx.enter(100);
    expect(m.vmx.stats.exits[EXIT_REASON.CPUID]).toBe(2);
    expect(m.vmx.stats.exits[EXIT_REASON.VMCALL]).toBe(1);
  });
});

// The controls the issue names, each against the SDM's own wording of when it exits.
describe('controls against the SDM: exits exactly where it says', () => {
  /** Guest paging: 0-4 MiB identity-mapped, page 0x5000 read-only, page 0x6000 absent (WP set). */
  function paged(m: VmxMachine): void {
    const v = m.vmx.vmcs;
    m.write32(0x10000, 0x11000 | 7);
    for (let p = 0; p < 1024; p++) m.write32(0x11000 + p * 4, p === 6 ? 0 : (p << 12) | (p === 5 ? 5 : 7));
    v.write(VMCS.GUEST_CR3, 0x10000);
    v.write(VMCS.GUEST_CR0, 0x80010031);
  }

  // SDM 25.2: a #PF exits when bit 14 of the exception bitmap is 1 and (PFEC & MASK) = MATCH, or
  // when bit 14 is 0 and (PFEC & MASK) != MATCH; otherwise it is delivered through the guest IDT.
  // Here MASK = MATCH = 2 (W): the write to the read-only page has PFEC 3 (matches), the read of
  // the absent page PFEC 0 (does not).
  const PF_CASES: [string, number, number[], boolean][] = [
    ['bit 14 = 1, a matching write fault', 1 << 14, [0xa3, 0x00, 0x50, 0x00, 0x00], true],
    ['bit 14 = 1, a read fault that does not match', 1 << 14, [0xa1, 0x00, 0x60, 0x00, 0x00], false],
    ['bit 14 = 0, a matching write fault', 0, [0xa3, 0x00, 0x50, 0x00, 0x00], false],
    ['bit 14 = 0, a read fault that does not match', 0, [0xa1, 0x00, 0x60, 0x00, 0x00], true],
  ];
  for (const [name, bitmap, code, exits] of PF_CASES) {
    it(`#PF error-code mask/match, ${name}: ${exits ? 'VM exit' : 'delivered to the guest'}`, () => {
      const m = new VmxMachine();
      paged(m);
      const v = m.vmx.vmcs;
      v.write(VMCS.EXCEPTION_BITMAP, bitmap);
      v.write(VMCS.PAGE_FAULT_ERROR_CODE_MASK, 2);
      v.write(VMCS.PAGE_FAULT_ERROR_CODE_MATCH, 2);
      m.gate(14, 0x2000);
      m.write(0x2000, CPUID);
      m.start(code);
      if (exits) {
        expect(m.vmx.enter(100)).toBe(EXIT_REASON.EXCEPTION_OR_NMI);
        expect(v.read(VMCS.VM_EXIT_INTERRUPTION_INFO) & 0xff).toBe(14);
        expect(m.rip).toBe(CODE);
      } else {
        expect(m.vmx.enter(100)).toBe(EXIT_REASON.CPUID);
        expect(m.rip).toBe(0x2000);
      }
    });
  }

  it('MSR bitmaps (SDM 25.1.3): the high range at 1 KiB (read) and 3 KiB (write); an MSR outside both ranges always exits', () => {
    const EFER = [0xb9, 0x80, 0x00, 0x00, 0xc0]; // mov ecx, 0xc0000080
    const machineWith = (bits: [number, number][], code: number[]) => {
      const m = new VmxMachine();
      const v = m.vmx.vmcs;
      v.write(VMCS.PRIMARY_PROCESSOR_CONTROLS, CPU_ACTIVATE_SECONDARY_CONTROLS | CPU_USE_MSR_BITMAPS);
      v.write(VMCS.MSR_BITMAP, 0x300000);
      v.write(VMCS.EXCEPTION_BITMAP, 1 << 13);
      for (const [offset, msr] of bits) m.memory.write8(0x300000 + offset + ((msr & 0x1fff) >> 3), 1 << (msr & 7));
      m.start(code);
      return m;
    };
    // Read bit of 0xc0000080 set: RDMSR exits; WRMSR (its write bit clear) runs in the guest, where
    // this CPU has no EFER: #GP(0), which the exception bitmap turns into an exit.
    const r = machineWith([[0x400, 0xc0000080]], [...EFER, 0x0f, 0x32]);
    expect(r.vmx.enter(100)).toBe(EXIT_REASON.RDMSR);
    const w = machineWith([[0x400, 0xc0000080]], [...EFER, 0x0f, 0x30]);
    expect(w.vmx.enter(100)).toBe(EXIT_REASON.EXCEPTION_OR_NMI);
    expect(w.vmx.vmcs.read(VMCS.VM_EXIT_INTERRUPTION_INFO)).toBe(0x80000b0d);
    const ww = machineWith([[0xc00, 0xc0000080]], [...EFER, 0x0f, 0x30]);
    expect(ww.vmx.enter(100)).toBe(EXIT_REASON.WRMSR);
    // 0x40000000 is in neither range: RDMSR exits with an all-zero bitmap.
    const out = machineWith([], [0xb9, 0x00, 0x00, 0x00, 0x40, 0x0f, 0x32]);
    expect(out.vmx.enter(100)).toBe(EXIT_REASON.RDMSR);
    expect(out.rip).toBe(CODE + 5);
  });

  it('an instruction the bitmaps let through retires in the guest: RDMSR of the TSC, a NOP under PAUSE exiting', () => {
    const m = new VmxMachine();
    const v = m.vmx.vmcs;
    v.write(VMCS.PRIMARY_PROCESSOR_CONTROLS, CPU_ACTIVATE_SECONDARY_CONTROLS | CPU_USE_MSR_BITMAPS | CPU_PAUSE_EXITING);
    v.write(VMCS.MSR_BITMAP, 0x300000);
    v.write(VMCS.PIN_BASED_CONTROLS, PIN_PREEMPTION_TIMER);
    v.write(VMCS.VM_EXIT_CONTROLS, EXIT_SAVE_PREEMPTION_TIMER);
    v.write(VMCS.VMX_PREEMPTION_TIMER_VALUE, 100);
    // mov ecx, 0x10; nop; rdmsr (the TSC counts the two before it); nop; rdmsr; cpuid
    m.start([0xb9, 0x10, 0, 0, 0, 0x90, 0x0f, 0x32, 0x90, 0x0f, 0x32, ...CPUID]);
    expect(m.vmx.enter(1000)).toBe(EXIT_REASON.CPUID);
    expect(m.vmx.cpu.reg32[0]).toBe(4);
    expect(m.vmx.cpu.retired).toBe(5);
    expect(v.read(VMCS.VMX_PREEMPTION_TIMER_VALUE)).toBe(95);
  });

  it('CR8-load/store exiting: CR8 exists only in 64-bit mode; a 32-bit guest\'s LOCK MOV CR0 (AMD\'s CR8 alias) is #UD, not a CR-access exit', () => {
    const m = new VmxMachine();
    const v = m.vmx.vmcs;
    v.write(VMCS.PRIMARY_PROCESSOR_CONTROLS, CPU_ACTIVATE_SECONDARY_CONTROLS | CPU_CR8_LOAD_EXITING | CPU_CR8_STORE_EXITING);
    v.write(VMCS.EXCEPTION_BITMAP, 1 << 6);
    m.start([0xf0, 0x0f, 0x22, 0xc0]);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.EXCEPTION_OR_NMI);
    expect(v.read(VMCS.VM_EXIT_INTERRUPTION_INFO)).toBe(0x80000306);
    // The same controls leave CR0, CR3 and CR4 accesses alone.
    const n = new VmxMachine();
    n.vmx.vmcs.write(VMCS.PRIMARY_PROCESSOR_CONTROLS, CPU_ACTIVATE_SECONDARY_CONTROLS | CPU_CR8_LOAD_EXITING | CPU_CR8_STORE_EXITING);
    n.start([0x0f, 0x20, 0xc0, 0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xe0, ...CPUID]);
    expect(n.vmx.enter(100)).toBe(EXIT_REASON.CPUID);
    expect(n.rip).toBe(CODE + 12);
  });

  it('preemption timer (SDM 25.5.1): a value of 0 exits before any instruction, after the injected event is delivered', () => {
    const m = new VmxMachine();
    const v = m.vmx.vmcs;
    m.gate(0x30, 0x2000);
    v.write(VMCS.PIN_BASED_CONTROLS, PIN_PREEMPTION_TIMER);
    v.write(VMCS.VMX_PREEMPTION_TIMER_VALUE, 0);
    v.write(VMCS.GUEST_RFLAGS, 0x202);
    v.write(VMCS.VM_ENTRY_INTERRUPTION_INFO, 0x80000030);
    m.start([0x40, ...CPUID]);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.PREEMPTION_TIMER);
    expect(m.rip).toBe(0x2000);
    expect(m.vmx.cpu.reg32[0]).toBe(0);
    expect(m.vmx.cpu.retired).toBe(0);
  });

  it('activity state HLT (SDM 26.6.5): entered halted, no instruction runs; the preemption timer ends the wait', () => {
    const m = new VmxMachine();
    const v = m.vmx.vmcs;
    v.write(VMCS.PIN_BASED_CONTROLS, PIN_PREEMPTION_TIMER);
    v.write(VMCS.VMX_PREEMPTION_TIMER_VALUE, 10);
    v.write(VMCS.GUEST_ACTIVITY_STATE, 1);
    m.start([0x40, ...CPUID]);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.PREEMPTION_TIMER);
    expect(m.rip).toBe(CODE);
    expect(m.vmx.cpu.reg32[0]).toBe(0);
    expect(v.read(VMCS.GUEST_ACTIVITY_STATE)).toBe(1);
    // Without the timer (and nothing to wake it) the host's limit ends the entry, still halted.
    v.write(VMCS.PIN_BASED_CONTROLS, 0);
    expect(m.vmx.enter(100)).toBe(ENTER_LIMIT);
    expect(v.read(VMCS.GUEST_ACTIVITY_STATE)).toBe(1);
  });

  it('external-interrupt and NMI exiting with nothing pending: no exit at all', () => {
    const pic = { pending: () => false, acknowledge: () => 0 };
    const m = new VmxMachine({ hostInterrupts: pic });
    m.vmx.vmcs.write(VMCS.PIN_BASED_CONTROLS, PIN_EXTERNAL_INTERRUPT_EXITING | PIN_NMI_EXITING);
    m.start([0x40, 0x40, ...CPUID]);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.CPUID);
    expect(m.vmx.cpu.reg32[0]).toBe(2);
  });
});
