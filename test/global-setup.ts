/**
 * Global setup: nothing shared yet at the foundation level. The control-plane issue
 * adds the real kube-apiserver here (started once, handed to suites through `provide`).
 */
export default async function setup(): Promise<() => Promise<void>> {
  return async () => {};
}
