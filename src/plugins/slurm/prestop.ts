/**
 * preStop hooks in a Slurm job (issue #15), with the kubelet's order: the hook first, then
 * SIGTERM, both within the pod's grace period.
 *
 * `scancel` alone signals every process of the job at once, so the delete goes in two steps.
 * The plugin first signals the batch shell alone (`scancel --batch --signal=28`: SIGWINCH,
 * whose default action is to be ignored, so a job whose script has no such trap is
 * unaffected; Slurm 22.05 knows it by number only). The script's trap runs the preStop hook
 * of each running app container beside it (the same checks as the probes: probes.ts) and,
 * once all have returned, writes `prestop.done` in the job directory. The plugin waits for
 * that file (or the end of the job, or the grace period), then cancels the job as before, so
 * Slurm and accounting record CANCELLED; the containers get SIGTERM with what is left of the
 * grace period. Each hook's result is `containers/<c>.prestop` ("success 0" / "failure 1");
 * a failure becomes a `FailedPreStopHook` probe event in the status.
 */
import type { JobSpec } from './job.ts';
import { checkWords } from './probes.ts';
import { render, type Word } from './runtime.ts';

/** SIGWINCH on Linux: what the plugin sends the batch shell to start the preStop hooks. */
export const PRESTOP_SIGNAL = '28';
/** The file the batch shell writes in the job directory once every preStop hook returned. */
export const PRESTOP_DONE = 'prestop.done';
/** A script has the preStop trap when it holds this (a job of an older plugin does not). */
export const PRESTOP_MARK = '_il_on_prestop';

/** The bash functions of the preStop hooks (after the probe library, whose helpers they use). */
const PRESTOP_LIBRARY = `# ---- preStop hooks: SIGWINCH to the batch shell alone (the plugin's delete) runs them ----
il_prestop=0
# _il_prestop NAME CHECK...: the hook of a running container; its result goes to NAME.prestop.
_il_prestop() {
  local name=$1; shift
  [[ -e $IL_CTR/$name.started && ! -e $IL_CTR/$name.exit ]] || return 0
  if "$@" >/dev/null 2>&1 </dev/null; then
    _il_probe_write "$IL_CTR/$name.prestop" success 0
  else
    _il_probe_write "$IL_CTR/$name.prestop" failure 1
    _il_log "container $name: its preStop hook failed"
  fi
}
# Runs in a trap: it only starts _il_prestops (builtins and a fork).
_il_on_prestop() {
  (( il_prestop || il_stopping )) && return 0
  il_prestop=1
  _il_log "preStop: running the hooks before the containers are stopped"
  _il_prestops &
  il_bg+=($!)
}`;

/** The script lines of a job's preStop hooks (none when no app container has one). Pure. */
export function preStopLines(job: JobSpec): string[] {
  const hooks = job.preStops;
  if (!hooks || hooks.size === 0) return [];
  const out = [PRESTOP_LIBRARY, '_il_prestops() {', `  trap - "\${IL_SIGNALS[@]}"`, '  local p=()'];
  for (const c of job.containers) {
    const h = c.kind === 'app' ? hooks.get(c.name) : undefined;
    if (!h) continue;
    const words: Word[] = [{ raw: '_il_prestop' }, c.name, ...checkWords(job, c, h)];
    out.push(`  ${render(words, `container ${c.name} preStop`)} &`, '  p+=($!)');
  }
  out.push(`  wait "\${p[@]}"`, `  : >"$IL_DIR/${PRESTOP_DONE}"`, '}', `trap ${PRESTOP_MARK} WINCH`, '');
  return out;
}
