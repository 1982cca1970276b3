/**
 * preStop hooks in a Slurm job (issue #15), with the kubelet's order: the hook first, then
 * one SIGTERM, both within the pod's grace period.
 *
 * The plugin's delete signals the batch shell alone (stop.ts; the script library's
 * `_il_on_stop`). When the pod has preStop hooks, that trap starts `_il_prestops`: the hook of
 * each running app container, beside it (the same checks as the probes: probes.ts), and once
 * all have returned, SIGTERM to the batch shell, which forwards it once to each container.
 * Each hook's result is `containers/<c>.prestop` ("success 0" / "failure 1"); a failure
 * becomes a `FailedPreStopHook` probe event in the status, and the plugin's `/delete`
 * answer names it (stop.ts), so the VK writes the Event.
 */
import type { JobSpec } from './job-spec.ts';
import { checkWords } from './probes.ts';
import { render, type Word } from './runtime.ts';

/** The bash functions of the preStop hooks (after the probe library, whose helpers they use). */
const PRESTOP_LIBRARY = `# ---- preStop hooks: the plugin's stop (_il_on_stop) runs them, then SIGTERM ----
il_has_prestop=1
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
  out.push(`  wait "\${p[@]}"`, '  kill -TERM $$', '}', '');
  return out;
}
