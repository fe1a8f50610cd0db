import { describe, expect, it } from 'vitest';
import {
  CPU_ACTIVATE_SECONDARY_CONTROLS, CPU_INTERRUPT_WINDOW_EXITING, CPU_UNCONDITIONAL_IO_EXITING, CPU_USE_IO_BITMAPS,
  CPU_USE_MSR_BITMAPS, CPU_USE_TSC_OFFSETTING, ENTER_LIMIT, ENTER_VMFAIL, EXIT_ACKNOWLEDGE_INTERRUPT, EXIT_REASON,
  EXIT_SAVE_PREEMPTION_TIMER, PIN_EXTERNAL_INTERRUPT_EXITING, PIN_NMI_EXITING, PIN_PREEMPTION_TIMER, VMCS,
} from '../../src/index.js';
import { CODE, GUEST_OFFSET, VmxMachine } from './support.js';

const CPUID = [0x0f, 0xa2];
const ENTRY_FAILURE = 0x80000021;

describe('VMCS', () => {
  it('fields are read and written by their SDM encodings; exit-information fields are read-only', () => {
    const m = new VmxMachine();
    const v = m.vmx.vmcs;
    v.write(0x4004, 0x4000); // exception bitmap
    expect(v.read(VMCS.EXCEPTION_BITMAP)).toBe(0x4000);
    v.write(0x681e, 0x1234); // guest RIP
    expect(m.vmx.cpu.eip).toBe(0x1234);
    expect(() => v.write(0x4402, 1)).toThrow(/read-only/);
    expect(() => v.read(0x4abc)).toThrow(/unsupported/);
    expect(v.read(VMCS.VMCS_LINK_POINTER)).toBe(2 ** 64 - 1);
    const snap = v.snapshot();
    expect(snap.GUEST_RIP).toBe(0x1234);
    expect(snap.GUEST_CS_ACCESS_RIGHTS).toBe(0xc09b);
  });
});

describe('VM entry checks (SDM 26.2, 26.3)', () => {
  it('a control bit this VMX lacks fails VMLAUNCH with VM-instruction error 7 and enters nothing', () => {
    const m = new VmxMachine();
    m.vmx.vmcs.write(VMCS.PIN_BASED_CONTROLS, 1 << 7);
    m.start(CPUID);
    expect(m.vmx.enter(10)).toBe(ENTER_VMFAIL);
    expect(m.vmx.vmcs.read(VMCS.VM_INSTRUCTION_ERROR)).toBe(7);
    expect(m.vmx.entryFailure).toMatch(/pin-based/);
    expect(m.vmx.cpu.retired).toBe(0);
  });

  it('a bad EPTP (walk length 2) fails the control checks', () => {
    const m = new VmxMachine();
    m.vmx.vmcs.write(VMCS.EPT_POINTER, m.eptRoot | 6 | (1 << 3));
    expect(m.vmx.enter(10)).toBe(ENTER_VMFAIL);
    expect(m.vmx.entryFailure).toMatch(/walk length 2/);
  });

  const invalid: [string, (m: VmxMachine) => void, RegExp][] = [
    ['CR0.NE = 0', (m) => m.vmx.vmcs.write(VMCS.GUEST_CR0, 0x11), /NE must be 1/],
    ['CR0.PE = 0 without unrestricted guest', (m) => {
      m.vmx.vmcs.write(VMCS.SECONDARY_PROCESSOR_CONTROLS, 2);
      m.vmx.vmcs.write(VMCS.GUEST_CR0, 0x30);
    }, /PE and PG must be 1/],
    ['CR0.PG without PE', (m) => m.vmx.vmcs.write(VMCS.GUEST_CR0, 0x80000030), /PG without PE/],
    ['CR0.NW without CD', (m) => m.vmx.vmcs.write(VMCS.GUEST_CR0, 0x20000031), /NW without CD/],
    ['RFLAGS bit 1 clear', (m) => m.vmx.vmcs.write(VMCS.GUEST_RFLAGS, 0), /RFLAGS/],
    ['CS a read-only data segment', (m) => m.vmx.vmcs.write(VMCS.GUEST_CS_ACCESS_RIGHTS, 0xc091), /CS access rights/],
    ['TR not a busy TSS', (m) => m.vmx.vmcs.write(VMCS.GUEST_TR_ACCESS_RIGHTS, 0x89), /TR access rights/],
    ['LDTR usable but not an LDT', (m) => m.vmx.vmcs.write(VMCS.GUEST_LDTR_ACCESS_RIGHTS, 0x93), /LDTR/],
    ['activity state 2 (shutdown)', (m) => m.vmx.vmcs.write(VMCS.GUEST_ACTIVITY_STATE, 2), /activity state 2/],
    ['blocking by STI with IF = 0', (m) => m.vmx.vmcs.write(VMCS.GUEST_INTERRUPTIBILITY_STATE, 1), /IF = 0/],
    ['an external interrupt injected with IF = 0', (m) => m.vmx.vmcs.write(VMCS.VM_ENTRY_INTERRUPTION_INFO, 0x80000020), /IF = 0/],
    ['an NMI injected with blocking by NMI', (m) => {
      m.vmx.vmcs.write(VMCS.GUEST_INTERRUPTIBILITY_STATE, 8);
      m.vmx.vmcs.write(VMCS.VM_ENTRY_INTERRUPTION_INFO, 0x80000202);
    }, /blocking by NMI/],
  ];
  for (const [name, spoil, why] of invalid) {
    it(`invalid guest state, ${name}: exit reason 33 with bit 31 set, and a reason`, () => {
      const m = new VmxMachine();
      m.start(CPUID);
      spoil(m);
      expect(m.vmx.enter(10)).toBe(ENTRY_FAILURE);
      expect(m.vmx.vmcs.read(VMCS.EXIT_REASON)).toBe(ENTRY_FAILURE);
      expect(m.vmx.entryFailure).toMatch(why);
      expect(m.vmx.cpu.retired).toBe(0);
    });
  }

  it('an injected #GP must deliver its error code in protected mode', () => {
    const m = new VmxMachine();
    m.vmx.vmcs.write(VMCS.VM_ENTRY_INTERRUPTION_INFO, 0x80000300 | 13);
    expect(m.vmx.enter(10)).toBe(ENTER_VMFAIL);
    expect(m.vmx.entryFailure).toMatch(/error-code delivery/);
  });
});

describe('VM-entry event injection (SDM 26.6)', () => {
  it('a hardware exception with an error code is delivered through the guest IDT with its frame', () => {
    const m = new VmxMachine();
    m.gate(13, 0x2000);
    m.write(0x2000, CPUID);
    m.start([0x90]);
    const v = m.vmx.vmcs;
    v.write(VMCS.VM_ENTRY_INTERRUPTION_INFO, 0x80000b0d);
    v.write(VMCS.VM_ENTRY_EXCEPTION_ERROR_CODE, 0x1234);
    expect(m.vmx.enter(10)).toBe(EXIT_REASON.CPUID);
    expect(m.rip).toBe(0x2000);
    const esp = v.read(VMCS.GUEST_RSP);
    expect(esp).toBe(0x9000 - 16);
    expect(m.read32(esp)).toBe(0x1234); // error code
    expect(m.read32(esp + 4)).toBe(CODE); // EIP: the instruction not yet run
    expect(m.read32(esp + 8)).toBe(0x08);
    // The valid bit is cleared at the exit: nothing is injected twice.
    expect(v.read(VMCS.VM_ENTRY_INTERRUPTION_INFO) >>> 31).toBe(0);
  });

  it('a software interrupt returns past its instruction (RIP + VM-entry instruction length)', () => {
    const m = new VmxMachine();
    m.gate(0x30, 0x2000);
    m.write(0x2000, CPUID);
    m.start([0xcd, 0x30]);
    const v = m.vmx.vmcs;
    v.write(VMCS.VM_ENTRY_INTERRUPTION_INFO, 0x80000430);
    v.write(VMCS.VM_ENTRY_INSTRUCTION_LENGTH, 2);
    expect(m.vmx.enter(10)).toBe(EXIT_REASON.CPUID);
    expect(m.read32(v.read(VMCS.GUEST_RSP))).toBe(CODE + 2);
  });

  it('an external interrupt wakes a guest in the HLT activity state', () => {
    const m = new VmxMachine();
    m.gate(0x20, 0x2000);
    m.write(0x2000, CPUID);
    m.start([0xf4]);
    const v = m.vmx.vmcs;
    v.write(VMCS.GUEST_RFLAGS, 0x202);
    v.write(VMCS.GUEST_ACTIVITY_STATE, 1);
    v.write(VMCS.VM_ENTRY_INTERRUPTION_INFO, 0x80000020);
    expect(m.vmx.enter(10)).toBe(EXIT_REASON.CPUID);
    expect(m.read32(v.read(VMCS.GUEST_RSP))).toBe(CODE);
    expect(v.read(VMCS.GUEST_ACTIVITY_STATE)).toBe(0);
  });
});

describe('interrupt window, interruptibility and activity state', () => {
  it('interrupt-window exiting: exits once IF = 1 and the STI shadow has passed', () => {
    const m = new VmxMachine();
    m.vmx.vmcs.write(VMCS.PRIMARY_PROCESSOR_CONTROLS, CPU_ACTIVATE_SECONDARY_CONTROLS | CPU_INTERRUPT_WINDOW_EXITING);
    m.start([0x90, 0xfb, 0x90, 0x90, ...CPUID]); // nop; sti; nop (in the shadow); nop
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.INTERRUPT_WINDOW);
    expect(m.rip).toBe(CODE + 3);
    expect(m.vmx.vmcs.read(VMCS.GUEST_INTERRUPTIBILITY_STATE)).toBe(0);
  });

  it('an exit inside the STI shadow saves blocking by STI; entry restores it', () => {
    const m = new VmxMachine();
    m.start([0xfb, ...CPUID, 0x90, ...CPUID]);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.CPUID);
    const v = m.vmx.vmcs;
    expect(v.read(VMCS.GUEST_INTERRUPTIBILITY_STATE)).toBe(1);
    v.write(VMCS.PRIMARY_PROCESSOR_CONTROLS, CPU_ACTIVATE_SECONDARY_CONTROLS | CPU_INTERRUPT_WINDOW_EXITING);
    // Entered again with blocking by STI (the VMM skipped CPUID but kept the state), the next
    // instruction is in the shadow, and the window opens after it.
    m.skip();
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.INTERRUPT_WINDOW);
    expect(m.rip).toBe(CODE + 4);
  });

  it('a MOV SS exit saves blocking by MOV SS', () => {
    const m = new VmxMachine();
    m.start([0x8e, 0xd0, ...CPUID]); // mov ss, ax (AX = 0x10 below)
    m.vmx.cpu.reg32[0] = 0x10;
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.CPUID);
    expect(m.vmx.vmcs.read(VMCS.GUEST_INTERRUPTIBILITY_STATE)).toBe(2);
  });
});

describe('pin-based controls', () => {
  it('preemption timer: exits after that many TSC ticks (instructions), saving 0', () => {
    const m = new VmxMachine();
    const v = m.vmx.vmcs;
    v.write(VMCS.PIN_BASED_CONTROLS, PIN_PREEMPTION_TIMER);
    v.write(VMCS.VM_EXIT_CONTROLS, EXIT_SAVE_PREEMPTION_TIMER);
    v.write(VMCS.VMX_PREEMPTION_TIMER_VALUE, 5);
    m.start([0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, ...CPUID]);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.PREEMPTION_TIMER);
    expect(m.vmx.cpu.reg32[0]).toBe(5);
    expect(v.read(VMCS.VMX_PREEMPTION_TIMER_VALUE)).toBe(0);
    // Saved at another exit: what is left.
    v.write(VMCS.VMX_PREEMPTION_TIMER_VALUE, 50);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.CPUID);
    expect(v.read(VMCS.VMX_PREEMPTION_TIMER_VALUE)).toBe(48);
  });

  it('external-interrupt exiting: exits whatever RFLAGS.IF says, acknowledging into the exit information', () => {
    let acks = 0;
    const pic = { pending: () => acks === 0, acknowledge: () => (acks++, 0x31) };
    const m = new VmxMachine({ hostInterrupts: pic });
    const v = m.vmx.vmcs;
    v.write(VMCS.PIN_BASED_CONTROLS, PIN_EXTERNAL_INTERRUPT_EXITING);
    v.write(VMCS.VM_EXIT_CONTROLS, EXIT_ACKNOWLEDGE_INTERRUPT);
    m.start(CPUID);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.EXTERNAL_INTERRUPT);
    expect(v.read(VMCS.VM_EXIT_INTERRUPTION_INFO)).toBe(0x80000031);
    expect(m.rip).toBe(CODE);
  });

  it('without external-interrupt exiting the host interrupt is delivered in the guest', () => {
    let acks = 0;
    const pic = { pending: () => acks === 0, acknowledge: () => (acks++, 0x31) };
    const m = new VmxMachine({ hostInterrupts: pic });
    m.gate(0x31, 0x2000);
    m.write(0x2000, CPUID);
    m.vmx.vmcs.write(VMCS.GUEST_RFLAGS, 0x202);
    m.start([0x90, ...CPUID]);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.CPUID);
    expect(m.rip).toBe(0x2000);
  });

  it('NMI exiting: a pending NMI exits with interruption type 2; without it the guest takes vector 2', () => {
    const m = new VmxMachine();
    m.vmx.vmcs.write(VMCS.PIN_BASED_CONTROLS, PIN_NMI_EXITING);
    m.start(CPUID);
    m.vmx.nmiPending = true;
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.EXCEPTION_OR_NMI);
    expect(m.vmx.vmcs.read(VMCS.VM_EXIT_INTERRUPTION_INFO)).toBe(0x80000202);

    const n = new VmxMachine();
    n.gate(2, 0x2000);
    n.write(0x2000, CPUID);
    n.start(CPUID);
    n.vmx.nmiPending = true;
    expect(n.vmx.enter(100)).toBe(EXIT_REASON.CPUID);
    expect(n.rip).toBe(0x2000);
  });
});

describe('blocking by NMI (interruptibility state bit 3)', () => {
  it('an NMI delivered in the guest blocks the next one until IRET, which lets it in right after (SDM 6.7.1, 25.3)', () => {
    const m = new VmxMachine();
    const v = m.vmx.vmcs;
    m.gate(2, 0x2000);
    m.write(0x2000, [0x43, ...CPUID, 0xcf]); // the NMI handler: inc ebx; cpuid; iret
    m.start(CPUID);
    m.vmx.nmiPending = true;
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.CPUID);
    expect(m.rip).toBe(0x2001);
    expect(v.read(VMCS.GUEST_INTERRUPTIBILITY_STATE)).toBe(8);
    // A second NMI while the handler runs waits for its IRET: one frame on the stack, not two.
    m.vmx.nmiPending = true;
    m.skip();
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.CPUID);
    expect(m.rip).toBe(0x2001);
    expect(m.vmx.cpu.reg32[3]).toBe(2);
    expect(m.vmx.cpu.reg32[4]).toBe(0x9000 - 12);
    expect(v.read(VMCS.GUEST_INTERRUPTIBILITY_STATE)).toBe(8);
    // The last IRET returns to the interrupted CPUID with NMIs unblocked.
    m.skip();
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.CPUID);
    expect(m.rip).toBe(CODE);
    expect(v.read(VMCS.GUEST_INTERRUPTIBILITY_STATE)).toBe(0);
    expect(m.vmx.cpu.reg32[4]).toBe(0x9000);
  });

  it('entered with blocking by NMI under NMI exiting: the pending NMI neither exits nor is delivered, and IRET does not unblock it', () => {
    const m = new VmxMachine();
    const v = m.vmx.vmcs;
    v.write(VMCS.PIN_BASED_CONTROLS, PIN_NMI_EXITING);
    v.write(VMCS.GUEST_INTERRUPTIBILITY_STATE, 8);
    // pushfd; push cs; push CODE + 8; iret (to CODE + 8); cpuid
    m.start([0x9c, 0x0e, 0x68, (CODE + 8) & 0xff, (CODE + 8) >> 8, 0, 0, 0xcf, ...CPUID]);
    m.vmx.nmiPending = true;
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.CPUID);
    expect(m.rip).toBe(CODE + 8);
    expect(m.vmx.nmiPending).toBe(true);
    expect(v.read(VMCS.GUEST_INTERRUPTIBILITY_STATE)).toBe(8);
    // Unblocked by the VMM, the NMI exits at once.
    v.write(VMCS.GUEST_INTERRUPTIBILITY_STATE, 0);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.EXCEPTION_OR_NMI);
    expect(v.read(VMCS.VM_EXIT_INTERRUPTION_INFO)).toBe(0x80000202);
  });
});

describe('exceptions', () => {
  it('#GP exits with its error code; a triple fault exits with reason 2', () => {
    const m = new VmxMachine();
    m.vmx.vmcs.write(VMCS.EXCEPTION_BITMAP, 1 << 13);
    m.start([0x8e, 0xd8]); // mov ds, ax with AX = 0x1b: RPL 3 > CPL... selector beyond GDT limit
    m.vmx.cpu.reg32[0] = 0xfff8;
    m.vmx.vmcs.write(VMCS.GUEST_GDTR_LIMIT, 0x17);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.EXCEPTION_OR_NMI);
    const v = m.vmx.vmcs;
    expect(v.read(VMCS.VM_EXIT_INTERRUPTION_INFO)).toBe(0x80000b0d);
    expect(v.read(VMCS.VM_EXIT_INTERRUPTION_ERROR_CODE)).toBe(0xfff8);

    const t = new VmxMachine();
    t.vmx.vmcs.write(VMCS.GUEST_IDTR_LIMIT, 0);
    t.start([0x0f, 0x0b]);
    expect(t.vmx.enter(100)).toBe(EXIT_REASON.TRIPLE_FAULT);
  });

  it('a fault that exits did not retire: neither the TSC nor the preemption timer counts it; delivered, it counts once', () => {
    // nop; nop; ud2 under the exception bitmap's #UD: the exit happens instead of the delivery,
    // so two instructions ran (SDM 27.1: the faulting instruction has not executed).
    const m = new VmxMachine();
    const v = m.vmx.vmcs;
    v.write(VMCS.PIN_BASED_CONTROLS, PIN_PREEMPTION_TIMER);
    v.write(VMCS.VM_EXIT_CONTROLS, EXIT_SAVE_PREEMPTION_TIMER);
    v.write(VMCS.VMX_PREEMPTION_TIMER_VALUE, 50);
    v.write(VMCS.EXCEPTION_BITMAP, 1 << 6);
    m.start([0x90, 0x90, 0x0f, 0x0b]);
    const tsc = m.vmx.cpu.readTsc();
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.EXCEPTION_OR_NMI);
    expect(m.rip).toBe(CODE + 2);
    expect(m.vmx.cpu.retired).toBe(2);
    expect(m.vmx.cpu.readTsc() - tsc).toBe(2);
    expect(v.read(VMCS.VMX_PREEMPTION_TIMER_VALUE)).toBe(48);

    // Without the bitmap bit the guest's handler takes the #UD: the fault counts as one, as on the
    // bare CPU, and the handler's CPUID exits.
    const n = new VmxMachine();
    n.gate(6, 0x2000);
    n.write(0x2000, CPUID);
    n.start([0x90, 0x90, 0x0f, 0x0b]);
    expect(n.vmx.enter(100)).toBe(EXIT_REASON.CPUID);
    expect(n.rip).toBe(0x2000);
    expect(n.vmx.cpu.retired).toBe(3);
  });

  it('#PF error-code mask/match: with bit 14 set, only faults whose code matches exit; CR2 is left alone on exit', () => {
    const m = new VmxMachine();
    const v = m.vmx.vmcs;
    // Guest paging: directory at 0x10000 mapping 0-4 MiB with a page table at 0x11000; page 0x5000 read-only, 0x6000 absent.
    m.write32(0x10000, 0x11000 | 7);
    for (let p = 0; p < 1024; p++) m.write32(0x11000 + p * 4, p === 6 ? 0 : (p << 12) | (p === 5 ? 5 : 7));
    v.write(VMCS.GUEST_CR3, 0x10000);
    v.write(VMCS.GUEST_CR0, 0x80010031); // PG WP NE ET PE
    v.write(VMCS.EXCEPTION_BITMAP, 1 << 14);
    v.write(VMCS.PAGE_FAULT_ERROR_CODE_MASK, 2); // W
    v.write(VMCS.PAGE_FAULT_ERROR_CODE_MATCH, 2);
    m.gate(14, 0x2000);
    m.write(0x2000, CPUID);
    m.vmx.cpu.cr2 = 0xdead000;
    // mov [0x5000], eax (a write: exits); after the VMM skips it, mov eax, [0x6000] (a read: the guest's).
    m.start([0xa3, 0x00, 0x50, 0x00, 0x00, 0xa1, 0x00, 0x60, 0x00, 0x00]);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.EXCEPTION_OR_NMI);
    expect(v.read(VMCS.VM_EXIT_INTERRUPTION_INFO)).toBe(0x80000b0e);
    expect(v.read(VMCS.VM_EXIT_INTERRUPTION_ERROR_CODE)).toBe(3);
    expect(m.qualification).toBe(0x5000);
    expect(m.vmx.cpu.cr2).toBe(0xdead000);
    v.write(VMCS.GUEST_RIP, CODE + 5);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.CPUID);
    expect(m.rip).toBe(0x2000);
    expect(m.vmx.cpu.cr2).toBe(0x6000);
  });
});

describe('I/O and MSR bitmaps, TSC offsetting, CR0/CR4 masks', () => {
  it('I/O bitmaps A and B: only the ports whose bit is set exit; the rest reach the bus', () => {
    const m = new VmxMachine();
    const v = m.vmx.vmcs;
    v.write(VMCS.PRIMARY_PROCESSOR_CONTROLS, CPU_ACTIVATE_SECONDARY_CONTROLS | CPU_USE_IO_BITMAPS | CPU_UNCONDITIONAL_IO_EXITING);
    v.write(VMCS.IO_BITMAP_A, 0x200000);
    v.write(VMCS.IO_BITMAP_B, 0x201000);
    m.memory.write8(0x200000 + (0x80 >> 3), 1 << (0x80 & 7));
    m.memory.write8(0x201000 + ((0x8001 - 0x8000) >> 3), 1 << 1);
    // out 0x81, al; out 0x80, al; mov dx, 0x8001; in al, dx
    m.start([0xe6, 0x81, 0xe6, 0x80, 0x66, 0xba, 0x01, 0x80, 0xec]);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.IO_INSTRUCTION);
    expect(m.qualification).toBe(0x00800040);
    expect(m.io.log).toEqual(['out 81/1=0']);
    m.skip();
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.IO_INSTRUCTION);
    expect(m.qualification).toBe(0x80010008);
  });

  it('string I/O: REP OUTSB reports string, REP and the linear address of the first iteration', () => {
    const m = new VmxMachine();
    m.vmx.vmcs.write(VMCS.PRIMARY_PROCESSOR_CONTROLS, CPU_ACTIVATE_SECONDARY_CONTROLS | CPU_UNCONDITIONAL_IO_EXITING);
    m.start([0xf3, 0x6e]);
    m.vmx.cpu.reg32[2] = 0x3f8;
    m.vmx.cpu.reg32[6] = 0x4321;
    m.vmx.cpu.reg32[1] = 3;
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.IO_INSTRUCTION);
    expect(m.qualification).toBe(0x03f80030);
    expect(m.vmx.vmcs.read(VMCS.GUEST_LINEAR_ADDRESS)).toBe(0x4321);
    expect(m.vmx.vmcs.read(VMCS.VM_EXIT_INSTRUCTION_LENGTH)).toBe(2);
  });

  it('MSR bitmaps: a clear bit lets RDMSR run in the guest, a set bit exits; without bitmaps every access exits', () => {
    const m = new VmxMachine();
    const v = m.vmx.vmcs;
    v.write(VMCS.PRIMARY_PROCESSOR_CONTROLS, CPU_ACTIVATE_SECONDARY_CONTROLS | CPU_USE_MSR_BITMAPS);
    v.write(VMCS.MSR_BITMAP, 0x300000);
    m.memory.write8(0x300000 + 0x800 + (0x10 >> 3), 1 << (0x10 & 7)); // write of IA32_TIME_STAMP_COUNTER exits
    // mov ecx, 0x10; rdmsr; wrmsr
    m.start([0xb9, 0x10, 0, 0, 0, 0x0f, 0x32, 0x0f, 0x30]);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.WRMSR);
    expect(m.rip).toBe(CODE + 7);
    expect(m.vmx.cpu.reg32[0]).toBeGreaterThan(0); // RDMSR of the TSC ran in the guest

    const n = new VmxMachine();
    n.start([0xb9, 0x10, 0, 0, 0, 0x0f, 0x32]);
    expect(n.vmx.enter(100)).toBe(EXIT_REASON.RDMSR);
  });

  it('TSC offsetting: the guest reads the TSC plus the offset; the host TSC is unchanged after the exit', () => {
    const m = new VmxMachine();
    const v = m.vmx.vmcs;
    v.write(VMCS.PRIMARY_PROCESSOR_CONTROLS, CPU_ACTIVATE_SECONDARY_CONTROLS | CPU_USE_TSC_OFFSETTING);
    v.write(VMCS.TSC_OFFSET, 0x100000000);
    m.start([0x0f, 0x31, ...CPUID]);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.CPUID);
    expect(m.vmx.cpu.reg32[2]).toBe(1);
    expect(m.vmx.cpu.readTsc()).toBeLessThan(100);
  });

  it('CR0 guest/host mask and read shadow: reads see the shadow; a write exits only when it changes an owned bit', () => {
    const m = new VmxMachine();
    const v = m.vmx.vmcs;
    v.write(VMCS.CR0_GUEST_HOST_MASK, 0x20); // NE owned by the host
    v.write(VMCS.CR0_READ_SHADOW, 0x11);
    // mov eax, cr0; or eax, 2 (MP); mov cr0, eax (NE as shadowed: no exit); or eax, 0x20; mov cr0, eax (exits)
    m.start([0x0f, 0x20, 0xc0, 0x83, 0xc8, 0x02, 0x0f, 0x22, 0xc0, 0x83, 0xc8, 0x20, 0x0f, 0x22, 0xc0]);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.CR_ACCESS);
    expect(m.rip).toBe(CODE + 12);
    expect(m.qualification).toBe(0x000); // CR0, MOV to CR, EAX
    expect(v.read(VMCS.GUEST_CR0)).toBe(0x33); // MP written, NE kept as the host has it
    expect(m.vmx.cpu.reg32[0]).toBe(0x33);
  });

  it('CLTS and LMSW against the CR0 mask (SDM 25.1.3)', () => {
    const m = new VmxMachine();
    const v = m.vmx.vmcs;
    v.write(VMCS.CR0_GUEST_HOST_MASK, 0x8 | 0x1); // TS and PE owned
    v.write(VMCS.CR0_READ_SHADOW, 0x8 | 0x1);
    m.start([0x0f, 0x06]);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.CR_ACCESS);
    expect(m.qualification).toBe(0x20);
    // LMSW ax with AX = 0x0003: MP changes (guest-owned) and PE stays 1 like the shadow: no exit; AX = 0x0002 keeps PE... LMSW never clears PE.
    v.write(VMCS.CR0_READ_SHADOW, 0x1);
    v.write(VMCS.GUEST_RIP, CODE + 2);
    m.write(CODE + 2, [0x0f, 0x01, 0xf0, 0x0f, 0x01, 0xf3, ...CPUID]); // lmsw ax; lmsw bx
    m.vmx.cpu.reg32[0] = 0x3;
    m.vmx.cpu.reg32[3] = 0xb; // TS set (owned, shadow 0): exits with the source in bits 31:16
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.CR_ACCESS);
    expect(m.rip).toBe(CODE + 5);
    expect(m.qualification).toBe(0x000b0030);
  });

  it('a limit with no exit returns ENTER_LIMIT with the guest state saved and resumable', () => {
    const m = new VmxMachine();
    m.start([0xeb, 0xfe]);
    expect(m.vmx.enter(50)).toBe(ENTER_LIMIT);
    expect(m.rip).toBe(CODE);
    expect(m.vmx.enter(50)).toBe(ENTER_LIMIT);
  });

  it('guest-physical addresses go through EPT: the guest sees host memory at +4 MiB', () => {
    const m = new VmxMachine();
    m.memory.write32(GUEST_OFFSET + 0x7000, 0xcafe);
    m.start([0xa1, 0x00, 0x70, 0x00, 0x00, ...CPUID]);
    expect(m.vmx.enter(100)).toBe(EXIT_REASON.CPUID);
    expect(m.vmx.cpu.reg32[0]).toBe(0xcafe);
  });
});
