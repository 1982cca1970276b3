/**
 * Probes in a Slurm job (issue #15): the job script starts one background loop per probe of
 * an app container, next to it on the node. Each loop writes its result to the job
 * directory (`containers/<c>.probe-<kind>`: "<result> <failures so far>"), which the status
 * call reads with the other container files: no Slurm command per probe. A liveness or
 * startup probe reaching its failure threshold writes `containers/<c>.killed` and stops the
 * container (TERM, then KILL after the pod's grace period); a Slurm pod's containers are not
 * restarted, so the pod fails with a message saying why.
 *
 * Script text here is generated, never copied: every pod value is a `sh()` word (quote.ts).
 * The check of an exec probe runs inside the container through the runtime (docker/podman
 * `exec` into the running container, apptainer/singularity `exec` of the same image with
 * the same binds), or as a plain process through `env --` with the `none` runtime (so a
 * command can never name one of the script's shell functions or builtins); httpGet and
 * tcpSocket use bash's /dev/tcp to 127.0.0.1 (the runtimes here share the node's network).
 */

import { FAILED_PRESTOP_HOOK } from '../../core/pod/probe-events.ts';
import {
  failureMessage,
  hooksOf,
  type ProbeHandler,
  type ProbeKind,
  type ProbeSpec,
  probesOf,
} from '../../core/pod/probes.ts';
import type { PodStatus } from '../../wire/interlink.ts';
import type { ContainerStatus, Pod, ProbeEvent } from '../../wire/k8s.ts';
import type { JobContainer, JobSpec } from './job-spec.ts';
import { render, runtimeContainerName, type Word } from './runtime.ts';

/** The bash functions of the probe loops (added to the job library when a pod has probes). */
export const PROBE_LIBRARY = `# ---- probes (run beside their container; results in $IL_CTR/<c>.probe-<kind>) ----
# _il_timeout SECONDS CMD...: run CMD (a function or a program) with a time limit.
_il_timeout() {
  local t=$1 p n=0; shift
  "$@" >/dev/null 2>&1 </dev/null &
  p=$!
  while kill -0 "$p" 2>/dev/null; do
    if (( n++ >= t * 10 )); then kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; return 124; fi
    sleep 0.1
  done
  wait "$p"
}
_il_tcp() { exec 3<>"/dev/tcp/127.0.0.1/$1"; }
# _il_http PORT PATH [HEADER...]: HTTP/1.0 GET; 2xx and 3xx are a success (as the kubelet's).
_il_http() {
  local port=$1 path=$2 h code; shift 2
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  { printf 'GET %s HTTP/1.0\\r\\nHost: 127.0.0.1:%s\\r\\nUser-Agent: kube-probe/interlink\\r\\n' "$path" "$port"
    for h in "$@"; do printf '%s\\r\\n' "$h"; done
    printf '\\r\\n'; } >&3
  IFS=' ' read -r _ code _ <&3
  [[ $code =~ ^[23][0-9][0-9]$ ]]
}
_il_probe_write() { printf '%s %s\\n' "$2" "$3" >"$1.tmp" && mv -f "$1.tmp" "$1"; }
# _il_kill_ctr NAME GRACE WHY: stop a container (TERM, KILL after GRACE s); WHY goes to NAME.killed.
_il_kill_ctr() {
  local name=$1 grace=$2 p i
  printf '%s\\n' "$3" >"$IL_CTR/$name.killed"
  _il_log "container $name failed its $3: stopping it"
  p=""; read -r p <"$IL_RUN/$name.pid" 2>/dev/null
  [[ -n $p ]] || return 0
  kill -TERM "$p" 2>/dev/null
  for ((i = 0; i < grace * 10; i++)); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null
}
# _il_poststart NAME GRACE CHECK...: the postStart hook once the container started; its
# result (NAME.poststart) gates the probes; a failure stops the container.
_il_poststart() {
  trap - "\${IL_SIGNALS[@]}"
  local name=$1 grace=$2; shift 2
  until [[ -e $IL_CTR/$name.started ]]; do [[ -e $IL_CTR/$name.exit ]] && return 0; sleep 0.2; done
  if "$@" >/dev/null 2>&1 </dev/null; then _il_probe_write "$IL_CTR/$name.poststart" success 0; return 0; fi
  _il_probe_write "$IL_CTR/$name.poststart" failure 1
  _il_kill_ctr "$name" "$grace" poststart
}
# _il_probe NAME KIND GATE DELAY PERIOD TIMEOUT SUCCESS FAILURE KILL GRACE CHECK...
# GATE: "-", or the file NAME.GATE that must say "success" first (probe-startup, poststart).
_il_probe() {
  trap - "\${IL_SIGNALS[@]}"
  local name=$1 kind=$2 gate=$3 delay=$4 period=$5 t=$6 sthr=$7 fthr=$8 kill=$9 grace=\${10}
  shift 10
  local f="$IL_CTR/$name.probe-$kind" res=unknown ok=0 bad=0 total=0 line
  [[ $kind == readiness ]] && res=failure
  until [[ -e $IL_CTR/$name.started ]]; do [[ -e $IL_CTR/$name.exit ]] && return 0; sleep 0.5; done
  if [[ $gate != - ]]; then
    while :; do
      [[ -e $IL_CTR/$name.exit ]] && return 0
      line=""; read -r line <"$IL_CTR/$name.$gate" 2>/dev/null
      [[ $line == success* ]] && break
      sleep 0.5
    done
  fi
  sleep "$delay"
  while [[ ! -e $IL_CTR/$name.exit ]]; do
    if _il_timeout "$t" "$@"; then
      ok=$((ok + 1)); bad=0; (( ok >= sthr )) && res=success
    else
      bad=$((bad + 1)); ok=0; total=$((total + 1)); (( bad >= fthr )) && res=failure
    fi
    _il_probe_write "$f" "$res" "$total"
    if (( kill && bad >= fthr )); then
      _il_kill_ctr "$name" "$grace" "$kind probe"
      return 0
    fi
    [[ $kind == startup && $res == success ]] && return 0
    sleep "$period"
  done
}
`;

const secs = (ms: number) => String(Math.max(1, Math.round(ms / 1000)));

/** The words of one probe's or hook's check for this runtime (see the file comment). Pure. */
export function checkWords(job: JobSpec, c: JobContainer, h: ProbeHandler): Word[] {
  switch (h.type) {
    case 'tcpSocket':
      return [{ raw: '_il_tcp' }, String(h.port)];
    case 'httpGet':
      return [{ raw: '_il_http' }, String(h.port), h.path, ...h.headers.map(([n, v]) => `${n}: ${v}`)];
    case 'sleep':
      return [{ raw: 'sleep' }, String(h.seconds)];
    case 'exec':
      switch (job.runtime) {
        case 'none':
          return ['env', '--', ...h.command];
        case 'docker':
        case 'podman':
          return [job.runtimePath, 'exec', '--', runtimeContainerName(job, c), ...h.command];
        case 'apptainer':
        case 'singularity': {
          const words: Word[] = [job.runtimePath, 'exec', ...job.runtimeOptions];
          for (const m of c.mounts) words.push('--bind', `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`);
          return [...words, c.image, ...h.command];
        }
        default:
          return [{ raw: 'false' }];
      }
    default:
      return [{ raw: 'false' }];
  }
}

/**
 * The lines that start the postStart hook and the probe loops of one app container (after
 * `_il_app`). `grace` is the pod's terminationGracePeriodSeconds. Pure.
 */
export function probeLines(
  job: JobSpec,
  c: JobContainer,
  probes: readonly ProbeSpec[],
  grace: number,
  postStart?: ProbeHandler,
): string[] {
  const first = postStart ? 'poststart' : '-';
  const gate = probes.some((p) => p.kind === 'startup') ? 'probe-startup' : first;
  const g = String(Math.max(0, Math.floor(grace)));
  const line = (words: Word[], what: string) =>
    `(( il_stopping )) || { ${render(words, `container ${c.name} ${what}`)} & il_bg+=($!); }`;
  const out: string[] = [];
  if (postStart)
    out.push(line([{ raw: '_il_poststart' }, c.name, g, ...checkWords(job, c, postStart)], 'postStart'));
  for (const p of probes) {
    const words: Word[] = [
      { raw: '_il_probe' },
      c.name,
      p.kind,
      p.kind === 'startup' ? first : gate,
      String(Math.floor(p.initialDelayMs / 1000)),
      secs(p.periodMs),
      secs(p.timeoutMs),
      String(p.successThreshold),
      String(p.failureThreshold),
      p.kind === 'readiness' ? '0' : '1',
      g,
      ...checkWords(job, c, p.handler),
    ];
    out.push(line(words, 'probe'));
  }
  return out;
}

function appContainers(pod: Pod): Array<[string, unknown]> {
  const containers = ((pod.spec ?? {}) as { containers?: unknown[] }).containers ?? [];
  const out: Array<[string, unknown]> = [];
  for (const c of containers) {
    const name = (c as { name?: unknown })?.name;
    if (typeof name === 'string') out.push([name, c]);
  }
  return out;
}

/** The probes of each app container of a pod, by container name. Pure. */
export function podProbes(pod: Pod): Map<string, ProbeSpec[]> {
  const out = new Map<string, ProbeSpec[]>();
  for (const [name, c] of appContainers(pod)) {
    const probes = probesOf(c);
    if (probes.length > 0) out.set(name, probes);
  }
  return out;
}

/** The postStart hook of each app container that has one. Pure. */
export function podPostStarts(pod: Pod): Map<string, ProbeHandler> {
  const out = new Map<string, ProbeHandler>();
  for (const [name, c] of appContainers(pod)) {
    const h = hooksOf(c).postStart;
    if (h) out.set(name, h);
  }
  return out;
}

export interface ProbeFiles {
  results: Partial<Record<ProbeKind, { result: string; failures: number }>>;
  killed?: ProbeKind | 'poststart';
  /** What the postStart hook's runner wrote. */
  postStart?: { result: string; failures: number };
  /** What the preStop hook's runner wrote (prestop.ts). */
  preStop?: { result: string; failures: number };
}

/** Parse a `<c>.probe-<kind>`, `<c>.poststart` or `<c>.prestop` file. Pure. */
export function parseProbeFile(text: string | undefined): { result: string; failures: number } | undefined {
  const m = /^(success|failure|unknown) (\d+)\s*$/.exec(text ?? '');
  return m ? { result: m[1]!, failures: Number(m[2]) } : undefined;
}

const WHAT: Record<ProbeKind | 'poststart', string> = {
  startup: 'startup probe',
  liveness: 'liveness probe',
  readiness: 'readiness probe',
  poststart: 'its postStart hook',
};

/** A container status with what its probe files say (ready, started, the kill, the Events). Pure. */
export function overlayProbes(
  s: ContainerStatus,
  probes: readonly ProbeSpec[],
  f: ProbeFiles,
  hasPostStart = false,
): ContainerStatus {
  const out: ContainerStatus = { ...s };
  const has = (k: ProbeKind) => probes.some((p) => p.kind === k);
  if (s.state?.running) {
    const hooked = !hasPostStart || f.postStart?.result === 'success';
    const started = hooked && (!has('startup') || f.results.startup?.result === 'success');
    out.started = started && !f.killed;
    out.ready = started && !f.killed && (!has('readiness') || f.results.readiness?.result === 'success');
  }
  if (f.killed && s.state?.terminated)
    out.state = {
      terminated: {
        ...s.state.terminated,
        message: `The container was killed: it failed ${WHAT[f.killed]}`,
      },
    };
  const events: ProbeEvent[] = [];
  for (const p of probes) {
    const r = f.results[p.kind];
    if (r && r.failures > 0)
      events.push({
        reason: 'Unhealthy',
        message: failureMessage(p.kind, 'the check did not succeed'),
        type: 'Warning',
        count: r.failures,
      });
  }
  if (f.postStart?.result === 'failure')
    events.push({
      reason: 'FailedPostStartHook',
      message: 'PostStartHook failed',
      type: 'Warning',
      count: 1,
    });
  if (f.preStop?.result === 'failure')
    events.push({ reason: FAILED_PRESTOP_HOOK, message: 'PreStopHook failed', type: 'Warning', count: 1 });
  if (f.killed)
    events.push({
      reason: 'Killing',
      message: `Container ${s.name} failed ${WHAT[f.killed]}`,
      type: 'Normal',
      count: 1,
    });
  if (events.length > 0) out.probeEvents = events;
  return out;
}

/**
 * A pod's status with its app containers' probe, postStart and preStop files applied (reads
 * only those containers). `preStops` names the containers with a preStop hook.
 */
export async function withProbes(
  st: PodStatus,
  pod: Pod,
  read: (name: string) => Promise<ProbeFiles>,
  preStops: ReadonlySet<string> = new Set(),
): Promise<PodStatus> {
  const probes = podProbes(pod);
  const hooks = podPostStarts(pod);
  if (probes.size === 0 && hooks.size === 0 && preStops.size === 0) return st;
  const containers = await Promise.all(
    (st.containers ?? []).map(async (c) => {
      const p = probes.get(c.name);
      const h = hooks.has(c.name);
      return p || h || preStops.has(c.name) ? overlayProbes(c, p ?? [], await read(c.name), h) : c;
    }),
  );
  return { ...st, containers };
}
