// How fast a restart may follow a domain's end (on_poweroff, on_reboot or on_crash = restart).
// Xen's xl restarts a domain as often as it ends; a guest that crashes at once with
// on_crash=restart then keeps a toolstack busy rebuilding it. Here restarts back off instead: a
// domain that lived less than RESTART_QUICK_MS counts as a quick end, and the n-th quick end in a
// row waits RESTART_FIRST_DELAY_MS * 2^(n-1), at most RESTART_MAX_DELAY_MS, before its rebuild
// (the old domain stays listed, shut down or crashed, with its frames, until then). One that lived
// longer restarts at once and starts the count again. A crash loop so costs the hypervisor one
// rebuild every 10 s, and `xl destroy` during the wait ends the loop.

/** A domain that ends within this long of its creation ended quickly. */
export const RESTART_QUICK_MS = 10_000;
export const RESTART_FIRST_DELAY_MS = 100;
export const RESTART_MAX_DELAY_MS = 10_000;

/**
 * How many quick ends in a row a restart follows (`before`: the count its domain inherited),
 * and how long it waits for that.
 */
export function restartPlan(before: number, livedMs: number): { readonly quickRestarts: number; readonly delayMs: number } {
  const quickRestarts = livedMs < RESTART_QUICK_MS ? before + 1 : 0;
  const delayMs = quickRestarts === 0 ? 0 : Math.min(RESTART_MAX_DELAY_MS, RESTART_FIRST_DELAY_MS * 2 ** Math.min(quickRestarts - 1, 30));
  return { quickRestarts, delayMs };
}
