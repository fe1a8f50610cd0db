// The macro workload: Debian's i686 kernel with the project's initramfs, booted to its init's marker
// by `ringvisor run` (bench-linux's helper) under each strategy that boots a native kernel. para
// runs only Xen PV kernels built without PAE, and Debian ships its Xen PV support in a PAE kernel.
import { APPEND, fetchGuest, ringvisor } from '../bench-linux.js';
import type { CompareReport, LinuxRow } from './report.js';

const LIMIT_S = 900;
const NATIVE_KERNEL = ['none', 'full', 'hw:vmx', 'hw:kvm'];

export async function linuxBootRows(strategies: CompareReport['strategies'], log: (line: string) => void): Promise<LinuxRow[]> {
  let guest: ReturnType<typeof fetchGuest>;
  try {
    guest = fetchGuest();
  } catch (error) {
    const why = `no Debian kernel (tools/linux-guest.mjs: ${(error as Error).message.split('\n')[0]})`;
    return strategies.map((s) => ({ strategy: s.name, skipped: why }));
  }
  const rows: LinuxRow[] = [];
  for (const s of strategies) {
    if (!s.ran) rows.push({ strategy: s.name, skipped: s.skipped ?? 'not run' });
    else if (!NATIVE_KERNEL.includes(s.name)) rows.push({ strategy: s.name, skipped: 'runs Xen PV kernels without PAE only; Debian\'s i686 kernel is not one' });
    else {
      log(`${s.name}: booting Linux`);
      const o = await ringvisor(guest, guest.bzImage, APPEND, LIMIT_S, s.name);
      rows.push({ strategy: s.name, ...o });
      log(`${s.name}: Linux ${'seconds' in o ? `${o.seconds.toFixed(1)} s` : JSON.stringify(o)}`);
    }
  }
  return rows;
}
