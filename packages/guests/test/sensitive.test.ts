// The sensitive guest on the bare emulated CPU (strategy `none`). Its output is the baseline a VMM
// must reproduce byte for byte, so here the baseline itself is checked against the architecture:
// every expected value below follows from the Intel SDM (Vol. 2 instruction pages, Vol. 3A
// chapters 5 "Protection" and 6 "Interrupt and Exception Handling").
import { noneStrategy } from '@ringvisor/x86-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { runGuest, type GuestRun } from './support/run-guest.js';

let run: GuestRun;
/** "ring name" → the rest of its line, for every probe line the guest printed. */
const lines = new Map<string, string>();

beforeAll(() => {
  run = runGuest(noneStrategy, 'sensitive', { clock: 'virtual' });
  for (const line of run.output.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith(' ')) lines.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
});

/** The fields of a probe line as numbers (`lar=ok` style words as 1/0), failing on a missing line. */
function fields(key: string): Record<string, number | string> {
  const line = lines.get(key);
  if (line === undefined) throw new Error(`no line '${key}' in the guest's output`);
  const out: Record<string, number | string> = {};
  for (const word of line.split(' ')) {
    const [name, value] = word.split('=');
    if (value === undefined) out.kind = name;
    else out[name] = /^0x/.test(value) ? Number(value) : value;
  }
  return out;
}

/** A #GP/#NP/... line: the vector's mnemonic, error code and saved CS. */
const fault = (key: string) => {
  const f = fields(key);
  return { kind: f.kind, err: f.err, cs: f.cs };
};

const IF = 0x200;
const IOPL = 0x3000;

describe('sensitive on the emulated CPU', () => {
  it('runs to the end and exits 0', () => {
    expect([run.end, run.detail]).toEqual(['halted', undefined]);
    expect(run.output).toContain('sensitive: start');
    expect(run.output).toContain('sensitive: done');
    expect(run.output).not.toContain('unexpected');
    expect(run.exitStatus).toBe(1); // code 0
  });

  it('SGDT, SIDT, SLDT, STR and SMSW show the real registers at CPL 3 as at CPL 0', () => {
    for (const name of ['sgdt', 'sidt', 'sldt', 'str', 'smsw']) expect(fields(`cpl3 ${name}`)).toEqual(fields(`cpl0 ${name}`));
    expect(fields('cpl0 sgdt').edx).toBe(16 * 8 - 1); // GDT limit: 16 descriptors
    expect(fields('cpl0 sidt').edx).toBe(256 * 8 - 1);
    expect(fields('cpl0 sldt').eax).toBe(0x38); // 32-bit destination: high half cleared on P6 and later
    expect(fields('cpl0 str').eax).toBe(0x28);
    // SMSW r16 stores CR0[15:0] and leaves the register's high half alone; PE and ET (hardwired 1) set.
    const cr0 = fields('cpl0 mov-from-cr0').eax as number;
    expect((cr0 & 0x80000001) >>> 0).toBe(0x80000001); // PG and PE: paging is on
    expect(fields('cpl3 smsw').eax).toBe((0xffff0000 | (cr0 & 0xffff)) >>> 0);
    expect(cr0 & 0x11).toBe(0x11);
  });

  it('PUSHF shows IF and IOPL; POPF and IRET change them only as CPL and IOPL allow, silently', () => {
    expect((fields('cpl3 pushf').eax as number) & (IF | IOPL)).toBe(IF);
    expect((fields('cpl3-iopl3 pushf').eax as number) & (IF | IOPL)).toBe(IF | IOPL);
    for (const probe of ['popf-flip-if-iopl', 'iret-flip-if-iopl']) {
      const kernel = fields(`cpl0 ${probe}`);
      expect(kernel.eax).toBe((kernel.edx as number) ^ (IF | IOPL)); // CPL 0: both change
      const user = fields(`cpl3 ${probe}`);
      expect(user.eax).toBe(user.edx); // CPL 3, IOPL 0: neither changes, and no fault
      const iopl3 = fields(`cpl3-iopl3 ${probe}`);
      expect(iopl3.eax).toBe((iopl3.edx as number) ^ IF); // CPL <= IOPL: IF changes, IOPL does not
    }
  });

  it('LAR, LSL, VERR and VERW apply the descriptor-type and privilege rules', () => {
    // Null selector, beyond the GDT limit, beyond the LDT limit: ZF = 0, destination untouched.
    for (const sel of ['0000', '0080', '0017']) {
      expect(lines.get(`cpl0 lar-lsl-verr-verw-${sel}`)).toBe('lar=fail dest=0xdeadbeef lsl=fail dest=0xdeadbeef verr=fail verw=fail');
    }
    // DPL 0 code is invisible at CPL 3; ring-3 code (accessed since CS holds it): G, D, P, DPL 3, code/read/accessed.
    expect(fields('cpl3 lar-lsl-verr-verw-0008').lar).toBe('fail');
    expect(lines.get('cpl3 lar-lsl-verr-verw-001b')).toBe('lar=ok ar=0x00c0fb00 lsl=ok limit=0xffffffff verr=ok verw=fail');
    expect(lines.get('cpl3 lar-lsl-verr-verw-0023')).toBe('lar=ok ar=0x00c0f300 lsl=ok limit=0xffffffff verr=ok verw=ok');
    // Conforming code skips the privilege check for LAR and VERR.
    expect(fields('cpl3 lar-lsl-verr-verw-0048')).toMatchObject({ lar: 'ok', verr: 'ok', verw: 'fail' });
    // RPL 3 against a DPL 1 segment fails even at CPL 0 (max(CPL, RPL) > DPL).
    expect(fields('cpl0 lar-lsl-verr-verw-0050').lar).toBe('ok');
    expect(fields('cpl0 lar-lsl-verr-verw-0053').lar).toBe('fail');
    // Busy TSS (TR): LAR and LSL are valid for it, VERR/VERW are not; the limit is byte-granular.
    expect(fields('cpl0 lar-lsl-verr-verw-0028')).toMatchObject({ lar: 'ok', ar: 0x8b00, lsl: 'ok', verr: 'fail', verw: 'fail' });
    // Call gates: LAR valid, LSL not.
    expect(fields('cpl3 lar-lsl-verr-verw-0043')).toMatchObject({ lar: 'ok', lsl: 'fail' });
    // Execute-only code is neither readable nor writable.
    expect(fields('cpl3 lar-lsl-verr-verw-005b')).toMatchObject({ lar: 'ok', verr: 'fail', verw: 'fail' });
    // Expand-down data: LSL reports the limit field as is.
    expect(fields('cpl3 lar-lsl-verr-verw-006b')).toMatchObject({ lsl: 'ok', limit: 0xfff });
  });

  it('segment registers carry the CPL in CS and SS; loads check type, privilege and presence', () => {
    expect(fields('cpl0 mov-cs-ss')).toMatchObject({ eax: 0x08, edx: 0x10 });
    expect(fields('cpl3 mov-cs-ss')).toMatchObject({ eax: 0x1b, edx: 0x23 });
    expect((fields('cpl3 push-cs-ss').eax as number) & 0xffff).toBe(0x1b);
    expect(fault('cpl3 mov-ds-0010')).toEqual({ kind: '#GP', err: 0x10, cs: 0x1b }); // DPL 0 data at CPL 3
    expect(fault('cpl0 mov-ds-0053')).toEqual({ kind: '#GP', err: 0x50, cs: 0x08 }); // RPL 3 > DPL 1
    expect(fault('cpl3 mov-ds-005b')).toEqual({ kind: '#GP', err: 0x58, cs: 0x1b }); // execute-only code
    expect(fault('cpl3 mov-ds-0063')).toEqual({ kind: '#NP', err: 0x60, cs: 0x1b }); // not present
    expect(fault('cpl3 mov-ds-0017')).toEqual({ kind: '#GP', err: 0x14, cs: 0x1b }); // beyond the LDT limit: TI kept
    expect(fields('cpl3 mov-ds-0048').eax).toBe(0x48); // readable conforming code: no privilege check
    expect(fields('cpl3 mov-ds-0000').eax).toBe(0); // a null selector loads into DS
    expect(fault('cpl3 mov-ss-0000')).toEqual({ kind: '#GP', err: 0, cs: 0x1b }); // but never into SS
    expect(fault('cpl3 mov-ss-0020')).toEqual({ kind: '#GP', err: 0x20, cs: 0x1b }); // RPL != CPL
    expect(fault('cpl3 mov-ss-0063')).toEqual({ kind: '#SS', err: 0x60, cs: 0x1b }); // not-present stack: #SS
    // POP Sreg applies the same checks; a faulting POP leaves ESP as it was (the selector still pushed).
    expect(fields('cpl3 pop-ds-0010')).toMatchObject({ kind: '#GP', err: 0x10, cs: 0x1b, ss: 0x23, esp: 8 });
    expect(fields('cpl3 pop-ss-0023').eax).toBe(0x23);
    expect(fields('cpl3 pop-ds-0000').eax).toBe(0);
    expect(fault('cpl3 pop-ss-0000')).toEqual({ kind: '#GP', err: 0, cs: 0x1b });
    expect(fault('cpl0 pop-ss-0023')).toEqual({ kind: '#GP', err: 0x20, cs: 0x08 }); // DPL 3 stack at CPL 0
  });

  it('far CALL/JMP/RET and call gates follow the privilege rules', () => {
    expect(fault('cpl3 ljmp-kernel-cs')).toEqual({ kind: '#GP', err: 0x08, cs: 0x1b });
    expect(fault('cpl3 lret-kernel-cs')).toEqual({ kind: '#GP', err: 0x08, cs: 0x1b }); // RET to RPL < CPL
    expect(fault('cpl3 ljmp-gate-dpl3')).toEqual({ kind: '#GP', err: 0x08, cs: 0x1b }); // JMP never changes CPL
    expect(fault('cpl3 lcall-gate-dpl0')).toEqual({ kind: '#GP', err: 0x70, cs: 0x1b }); // gate DPL < CPL
    // A conforming segment runs at the caller's CPL: CS.RPL stays 3.
    expect(fields('cpl3 lcall-conforming')).toMatchObject({ eax: 0x4b, edx: 0x1b });
    // Through the DPL-3 gate into ring 0: the TSS stack holds SS:ESP, the copied parameter, CS:EIP.
    expect(fields('cpl3 gate-dpl3-frame')).toMatchObject({ cs: 0x08, 'caller-cs': 0x1b, param: 0x1234abcd, 'caller-ss': 0x23, 'caller-esp': 8 });
    expect(fields('cpl0 gate-dpl3-frame')).toMatchObject({ cs: 0x08, 'caller-cs': 0x08, param: 0x1234abcd, 'caller-ss': 0 });
    expect(fields('cpl3 lcall-gate-dpl3').eax).toBe(0x1b); // back in ring 3
  });

  it('INT n checks the gate DPL (#GP) before P (#NP); error codes name the IDT entry', () => {
    expect(fault('cpl3 int-0031')).toEqual({ kind: '#GP', err: 0x31 * 8 + 2, cs: 0x1b });
    expect(fault('cpl3 int-0032')).toEqual({ kind: '#NP', err: 0x32 * 8 + 2, cs: 0x1b });
    expect(fault('cpl0 int-0032')).toEqual({ kind: '#NP', err: 0x32 * 8 + 2, cs: 0x08 });
    expect(lines.get('cpl0 int-0031')).toBe('ok');
    expect(run.output).toMatch(/cpl3 int-0030: ok\r\n {2}taken: count=0x00000001 cs=0x0000001b eflags=0x00000246 handler-if=0x00000200 ss=0x00000023 esp=0x00000004/);
    // An interrupt gate clears IF in the handler; a trap gate does not.
    expect(run.output).toMatch(/cpl3 int-0033: ok\r\n {2}taken: count=0x00000001 cs=0x0000001b eflags=0x00000202 handler-if=0x00000000 ss=0x00000023/);
    // INT3 and INTO are traps: the saved EIP is past the instruction.
    expect(fields('cpl3 int3')).toMatchObject({ kind: '#BP', eip: 1, cs: 0x1b, ss: 0x23 });
    expect(fields('cpl3 into')).toMatchObject({ kind: '#OF', eip: 5 });
  });

  it('IRET to an outer level nulls data segments the new CPL may not use; IRET inward faults', () => {
    expect(fault('cpl3 iret-kernel-cs')).toEqual({ kind: '#GP', err: 0x08, cs: 0x1b });
    expect(fields('cpl3 iret-same-cpl').eax).toBe(0x1b);
    expect(lines.get('cpl3 iret-with-ds-0010')).toBe('ds=0x00000000 es=0x00000000 fs=0x00000000 gs=0x00000000');
    expect(lines.get('cpl3 iret-with-ds-0023')).toBe('ds=0x00000023 es=0x00000023 fs=0x00000023 gs=0x00000023');
    expect(lines.get('cpl3 iret-with-ds-0048')).toBe('ds=0x00000048 es=0x00000048 fs=0x00000048 gs=0x00000048'); // conforming code survives
  });

  it('every privileged instruction works at CPL 0 and raises #GP(0) at CPL 3', () => {
    const privileged = ['mov-from-cr0', 'mov-from-cr2', 'mov-from-cr3', 'mov-from-cr4', 'mov-to-cr3', 'mov-from-dr7', 'mov-to-dr7',
      'lgdt', 'lidt', 'lldt', 'ltr-busy', 'cli', 'sti', 'hlt', 'in-3fc', 'out-3fc', 'in-402', 'invlpg', 'wbinvd', 'rdmsr-tsc',
      'wrmsr-bios-sign-id', 'clts', 'lmsw', 'rdtsc-tsd'];
    for (const name of privileged) {
      expect(fault(`cpl3 ${name}`), name).toEqual({ kind: '#GP', err: 0, cs: 0x1b });
      expect(fields(`cpl3 ${name}`), name).toMatchObject({ ss: 0x23 });
    }
    for (const name of ['mov-to-cr3', 'lgdt', 'lidt', 'invlpg', 'wbinvd', 'rdmsr-tsc', 'wrmsr-bios-sign-id', 'clts', 'lmsw']) {
      expect(lines.get(`cpl0 ${name}`), name).toBe('ok');
    }
    expect(fields('cpl0 mov-to-dr7').eax).toBe(0x400); // DR7 bit 10 reads as 1
    expect(fault('cpl0 ltr-busy')).toEqual({ kind: '#GP', err: 0x28, cs: 0x08 }); // LTR of a busy TSS
    expect(fields('cpl0 ltr-available').eax).toBe(0x30);
    // The TSS I/O bitmap opens port 0x3fb (LCR = 0x03, 8N1) to ring 3; IOPL 3 opens every port.
    expect(fields('cpl3 in-3fb').eax).toBe(0x03);
    expect(lines.get('cpl3 out-3fb')).toBe('ok');
    expect(fields('cpl3-iopl3 in-402').kind).toBeUndefined(); // no fault
    expect((fields('cpl3-iopl3 cli').eax as number) & IF).toBe(0);
    expect(fault('cpl3-iopl3 hlt')).toEqual({ kind: '#GP', err: 0, cs: 0x1b }); // HLT needs CPL 0 whatever IOPL
    // RDTSC: CR4.TSD makes it privileged outside ring 0 only.
    expect(lines.get('cpl0 rdtsc-tsd')).toBe('delta>0');
    expect(lines.get('cpl3 rdtsc-no-tsd')).toBe('delta>0');
    // INVLPG after a PTE change: the next access uses the new translation.
    expect(fields('cpl3 read-remapped').eax).toBe(0x22222222);
    expect(fields('cpl3 read-restored').eax).toBe(0x11111111);
  });

  it('CPUID answers the same at both levels', () => {
    expect(run.output).toMatch(/cpl0 cpuid-0: ok\r\n {2}regs: r=0x[0-9a-f]{8} r=0x756e6547 r=0x6c65746e r=0x49656e69/); // GenuineIntel
    const cpuid = (ring: string) => run.output.split(`${ring} cpuid-1: ok\r\n`)[1].split('\r\n')[0];
    expect(cpuid('cpl3')).toBe(cpuid('cpl0'));
  });

  it('exception frames: no SS:ESP from CPL 0, the ring-3 SS:ESP from CPL 3; #PF error codes and CR2', () => {
    expect(fields('cpl0 divide-error')).toMatchObject({ kind: '#DE', cs: 0x08, esp: 0 });
    expect(fields('cpl0 divide-error').ss).toBeUndefined();
    expect(fields('cpl3 divide-error')).toMatchObject({ kind: '#DE', cs: 0x1b, ss: 0x23, esp: 4 });
    expect(fields('cpl3 ud2')).toMatchObject({ kind: '#UD', eip: 0 }); // faults point at the instruction
    expect(fields('cpl0 read-page-0')).toMatchObject({ kind: '#PF', err: 0, cr2: 0x10 });
    expect(fields('cpl3 read-page-0')).toMatchObject({ kind: '#PF', err: 4, cr2: 0x10 }); // U/S
    expect(fields('cpl3 read-kernel-page')).toMatchObject({ kind: '#PF', err: 5 }); // P, U/S
    expect(fields('cpl3 write-kernel-page')).toMatchObject({ kind: '#PF', err: 7 }); // P, W/R, U/S
    expect(lines.get('cpl3 read-user-page')).toBe('ok');
  });

  it('the timer interrupts user mode and kernel mode with the matching frames; STI;HLT takes it after HLT', () => {
    expect(lines.get('cpl3 timer')).toBe('count=0x00000001 cs=0x0000001b eflags=0x00000200 handler-if=0x00000000 ss=0x00000023 esp=0x00000004');
    expect(lines.get('cpl0 timer')).toBe('count=0x00000001 cs=0x00000008 eflags=0x00000200 handler-if=0x00000000');
    expect(lines.get('cpl0 sti-hlt-pending')).toBe('count=0x00000001 eip=0x00000002');
  });

  it('prints the same bytes on every run', () => {
    expect(runGuest(noneStrategy, 'sensitive', { clock: 'virtual' }).output).toBe(run.output);
  });
});
