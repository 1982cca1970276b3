/**
 * The batch script of a pod. Pure: JobSpec in, text out (golden-file tested in
 * test/plugins/slurm/golden/).
 *
 * What the script does, in order:
 *   1. `#SBATCH` options (flags.ts renders them; no line break can get through).
 *   2. A fixed library: per-container wrapper writing `containers/<name>.log` (CRI log lines,
 *      each stamped with an RFC 3339 UTC time and the stream), `.started`, `.finished` and,
 *      last and atomically, `.exit`; a SIGTERM trap forwarding to the containers (scancel and
 *      time limits send SIGTERM, then SIGKILL after KillWait); the plugin's stop trap (one
 *      SIGTERM per container, then wait for the plugin's scancel: stop.ts); the job's exit code is the
 *      worst container exit code, also written to `job.exit`.
 *   3. Site lines (jobEnv, commandPrefix, TSOCKS), volume files (non-shared mode), hostPath
 *      checks, the pod's pre-exec annotation (raw shell by intent).
 *   4. One function per container (runtime.ts), then init containers in order (a failure
 *      stops the job), sidecars and app containers in parallel, wait, finish.
 *
 * Every user-controlled value is a `sh()` word (quote.ts) or base64 inside one. The only
 * raw user text is the `slurm-job.vk.io/pre-exec` annotation (shell by intent, a site can
 * refuse it) and the site's own `commandPrefix`.
 */
import { invalidInput } from '../../errors/index.ts';
import { sbatchLine } from './flags.ts';
import type { JobSpec } from './job-spec.ts';
import { preStopLines } from './prestop.ts';
import { PROBE_LIBRARY, probeLines } from './probes.ts';
import { SHELL_IDENTIFIER, sh } from './quote.ts';
import { cleanupLines, containerBody } from './runtime.ts';

const mode = (m: number) => `0${m.toString(8).padStart(3, '0')}`;

/**
 * The bash function that starts a container beside the running ones (a sidecar, an app)
 * and keeps its pid and name in the arrays the job waits on and signals.
 */
const starter = (fn: string, pids: string, names: string) => `_il_${fn}() {
  (( il_stopping )) && return 0
  _il_container "$1" "$2" &
  ${pids}+=($!)
  ${names}+=("$1")
  il_running+=("$1")
}`;

/**
 * The fixed part of every job script. Inside this template literal, `\${` is a literal `${`
 * and `\\` a literal backslash.
 */
const LIBRARY = `# ---- interlink job library (the same in every job) ----
IL_CTR="$IL_DIR/containers"
il_worst=0
il_stopping=0
il_app_pids=()
il_side_pids=()
il_apps=()
il_sidecars=()
il_running=()
il_bg=()
IL_RUN=$(mktemp -d "\${TMPDIR:-/tmp}/interlink.XXXXXX") || exit 1

# Builtins only: it runs in signal traps, where a command substitution can hang bash.
_il_log() { local TZ=UTC; printf '%(%Y-%m-%dT%H:%M:%S)TZ interlink: %s\\n' -1 "$*" >&2; }
_il_now() { date -u +%Y-%m-%dT%H:%M:%S.%NZ; }

# Log lines get a time stamp and the stream: "<RFC 3339 UTC> stdout F <line>" (CRI format).
# One stamping process per stream appends to the same O_APPEND file; each writes every
# CRI line with ONE write(2) of at most PIPE_BUF (4096) bytes, so lines of the two streams
# never interleave. A longer line is cut into 4000-byte "P" (partial) lines ended by an "F"
# line; a last line without a newline comes out as an "F" line.
# awk when it has strftime (gawk, mawk >= 1.3.4): fast; else a bash loop. mawk reads pipes
# in blocks unless told -W interactive, which also makes it write unbuffered: one printf of
# one string is one write(2) (and gawk's fflush writes its one-line buffer).
il_awk=()
if awk 'BEGIN { if (strftime("%Y", 0, 1) != "1970") exit 1 }' </dev/null >/dev/null 2>&1; then
  if awk -W version 2>/dev/null </dev/null | grep -q mawk; then il_awk=(awk -W interactive); else il_awk=(awk); fi
fi
_il_stamp() {
  # Outlive the container's SIGTERM: the last lines are kept, end of input ends us.
  trap '' TERM INT
  if (( \${#il_awk[@]} )); then
    LC_ALL=C exec "\${il_awk[@]}" -v s="$1" '{
      t = strftime("%Y-%m-%dT%H:%M:%SZ", systime(), 1); l = $0
      while (length(l) > 4000) { printf "%s", t " " s " P " substr(l, 1, 4000) "\\n"; fflush(); l = substr(l, 4001) }
      printf "%s", t " " s " F " l "\\n"; fflush()
    }'
  fi
  # bash: read -n counts bytes under LC_ALL=C; printf is one write(2) for a line this short.
  local line t tag LC_ALL=C TZ=UTC
  while :; do
    line=""
    if IFS= read -r -n 4000 line; then
      if (( \${#line} == 4000 )); then tag=P; else tag=F; fi
    else
      [[ -n $line ]] || break
      tag=F
    fi
    t=\${EPOCHREALTIME:-}
    if [[ -n $t ]]; then
      printf '%(%Y-%m-%dT%H:%M:%S)T.%sZ %s %s %s\\n' "\${t%[.,]*}" "\${t#*[.,]}" "$1" "$tag" "$line"
    else
      printf '%(%Y-%m-%dT%H:%M:%S)TZ %s %s %s\\n' -1 "$1" "$tag" "$line"
    fi
  done
}

# Signals: Slurm sends SIGTERM (then SIGKILL after KillWait) to every process of the job on
# scancel and time limits; a site or user may also signal only the batch shell (scancel
# --batch, sbatch --signal=B:USR1@60). The batch shell forwards TERM/INT/HUP/USR1/USR2 to the
# containers; wrappers ignore them so that they outlive their container and record its exit.
# Waiting is done by polling with sleep, never by \`wait\` in a shell that has signal traps:
# bash (5.x) can then report -1 for a child or lose its status, and a trap can leave
# \`read -t\` blocked forever. A trap waits for the current \`sleep\` to end (at most 1 s).
IL_SIGNALS=(TERM INT HUP USR1 USR2 QUIT)
_il_await() {
  local p n=0
  for p in "$@"; do
    while kill -0 "$p" 2>/dev/null; do
      if (( n++ < 50 )); then sleep 0.2; else sleep 1; fi
    done
  done
}
# REPLY = the exit code a container's wrapper recorded (137 if it died before recording one).
_il_rc() { REPLY=""; read -r REPLY <"$IL_CTR/$1.exit" 2>/dev/null; [[ $REPLY =~ ^[0-9]+$ ]] || REPLY=137; }
# Send a signal to the processes of containers that are still running.
_il_signal() {
  local sig=$1 name p; shift
  for name in "$@"; do
    [[ -e $IL_CTR/$name.exit ]] && continue
    p=""; read -r p <"$IL_RUN/$name.pid" 2>/dev/null && [[ -n $p ]] && kill -"$sig" "$p" 2>/dev/null
  done
  return 0
}

# _il_container NAME FUNCTION (in a background subshell): one container with its log,
# start/finish times and exit code.
_il_container() {
  trap '' "\${IL_SIGNALS[@]}"
  local name=$1 fn=$2 rc i s1 s2
  local out="$IL_RUN/$name.out" err="$IL_RUN/$name.err" log="$IL_CTR/$name.log"
  mkfifo -m 600 "$out" "$err" || exit 125
  _il_stamp stdout <"$out" >>"$log" &
  s1=$!
  _il_stamp stderr <"$err" >>"$log" &
  s2=$!
  # docker and podman pull and create the container inside \`run\`: _il_watch_start marks it
  # started once it runs. Any other container starts with its process.
  (( IL_RUNTIME_MARKS_START )) || _il_now >"$IL_CTR/$name.started"
  # The container gets the default signal dispositions back.
  (trap - "\${IL_SIGNALS[@]}"; "$fn") >"$out" 2>"$err" </dev/null &
  printf '%s\\n' "$!" >"$IL_RUN/$name.pid"
  wait "$!"; rc=$?
  # Ended before the watcher saw it running: it ran, unless the runtime could not start it
  # (125: the runtime failed, 126/127: the command cannot run).
  if [[ ! -e $IL_CTR/$name.started ]] && (( rc < 125 || rc > 127 )); then _il_now >"$IL_CTR/$name.started"; fi
  # The log ends with the container's process; a child it left behind holding stdout open
  # gets 10 s, then loses its reader (as when a container's PID namespace goes away).
  for ((i = 0; i < 100; i++)); do
    kill -0 "$s1" 2>/dev/null || kill -0 "$s2" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$s1" "$s2" 2>/dev/null
  wait "$s1" "$s2" 2>/dev/null
  _il_now >"$IL_CTR/$name.finished"
  printf '%s\\n' "$rc" >"$IL_CTR/$name.exit.tmp" && mv -f "$IL_CTR/$name.exit.tmp" "$IL_CTR/$name.exit"
  exit "$rc"
}

# _il_watch_start NAME RUNTIME RUNTIME_NAME, in a container's function just before it execs
# \`RUNTIME run\` (docker, podman): NAME.started once the runtime reports the container
# running, not while it still pulls the image, so status, hooks and probes begin then.
_il_watch_start() {
  local name=$1 rt=$2 cname=$3 pid=$BASHPID
  (
    exec </dev/null >/dev/null 2>&1
    while kill -0 "$pid"; do
      if [[ $("$rt" container inspect -f '{{.State.Running}}' -- "$cname") == true ]]; then
        [[ -e $IL_CTR/$name.exit ]] || _il_now >"$IL_CTR/$name.started"
        break
      fi
      sleep 0.5
    done
  ) &
}

_il_finish() {
  printf '%s\\n' "$il_worst" >"$IL_DIR/job.exit.tmp" && mv -f "$IL_DIR/job.exit.tmp" "$IL_DIR/job.exit"
  # Stopped by the plugin (see _il_on_stop): its scancel ends us, so Slurm records CANCELLED.
  local i
  for ((i = 0; il_stop && !il_cancel && i < 300; i++)); do sleep 0.2; done
  exit "$il_worst"
}
_il_abort() { _il_log "$*"; (( il_worst == 0 )) && il_worst=1; _il_finish; }

# An init container runs to completion; a failure ends the job with its exit code.
_il_init() {
  (( il_stopping )) && _il_finish
  il_running=("$1")
  _il_container "$1" "$2" &
  _il_await $!
  il_running=()
  _il_rc "$1"
  if (( REPLY != 0 )); then
    (( REPLY > il_worst )) && il_worst=$REPLY
    _il_log "init container $1 failed with exit code $REPLY: the job stops"
    _il_finish
  fi
}
# A sidecar (init container with restartPolicy Always) runs beside the app containers.
${starter('sidecar', 'il_side_pids', 'il_sidecars')}
${starter('app', 'il_app_pids', 'il_apps')}
# The app containers run to their end; the job's exit code is the worst of theirs.
_il_wait_apps() {
  local name
  _il_await "\${il_app_pids[@]}"
  for name in "\${il_apps[@]}"; do
    _il_rc "$name"
    (( REPLY > il_worst )) && il_worst=$REPLY
  done
  # Sidecars end with the app containers; their exit codes do not count.
  _il_signal TERM "\${il_sidecars[@]}"
  _il_await "\${il_side_pids[@]}"
  il_running=()
}

# Runs in a trap: builtins only (see _il_log).
_il_on_signal() {
  if [[ $1 == TERM || $1 == INT ]]; then
    if (( il_stopping )); then
      [[ $1 == TERM ]] && (( il_stop )) && il_cancel=1
      return 0
    fi
    il_stopping=1
    _il_log "SIG$1: stopping the containers"
  fi
  _il_signal "$1" "\${il_running[@]}"
}
_il_on_exit() {
  local p
  for p in "\${il_bg[@]}"; do kill "$p" 2>/dev/null; done
  _il_cleanup
  rm -rf -- "$IL_RUN"
}
# The plugin's delete (stop.ts) signals the batch shell alone with SIGWINCH (ignored by
# default, so harmless to any other job): run the preStop hooks if any (prestop.ts), which
# then SIGTERM the batch shell; else SIGTERM the containers now. Each container gets that one
# SIGTERM (as from a kubelet). Once they ended, _il_finish waits (60 s at most, should the
# plugin be gone) for the plugin's scancel, whose SIGTERM ends the wait: Slurm and its
# accounting then record CANCELLED. \`stopping\` tells the plugin the signal arrived.
il_stop=0
il_cancel=0
il_has_prestop=0
_il_on_stop() {
  (( il_stop || il_stopping )) && return 0
  il_stop=1
  : >"$IL_DIR/stopping"
  if (( il_has_prestop )); then
    _il_log "stop: running the preStop hooks before the containers get SIGTERM"
    _il_prestops &
    il_bg+=($!)
  else
    _il_on_signal TERM
  fi
}
for il_sig in "\${IL_SIGNALS[@]}"; do trap "_il_on_signal $il_sig" "$il_sig"; done
trap _il_on_stop WINCH
trap _il_on_exit EXIT

# Volume files (non-shared mode) never go through a symbolic link: no component below the
# job directory may be one (a container of an earlier run of a requeued job may have left one
# in an emptyDir). A directory gets its mode from mkdir when created, and is never chmod-ed;
# a file is created afresh (noclobber: O_EXCL, which refuses even a dangling link) and only
# that file is chmod-ed.
_il_nolink() {
  local p=$1
  while [[ $p == "$IL_DIR"/* ]]; do
    [[ -L $p ]] && return 1
    p=\${p%/*}
  done
}
_il_dir() { { _il_nolink "$2" && mkdir -p -m "$1" -- "$2" && _il_nolink "$2" && [[ -d $2 ]]; } || _il_abort "cannot create a volume directory"; }
_il_file() {
  { _il_nolink "$2" && rm -f -- "$2" && (umask 077; set -C; printf '%s' "$3" | base64 -d >"$2") && chmod "$1" -- "$2"; } ||
    _il_abort "cannot write a volume file"
}
_il_hostpath() {
  case $1 in
    DirectoryOrCreate) mkdir -p -m 0755 -- "$2" ;;
    FileOrCreate) mkdir -p -- "$(dirname -- "$2")" && { [[ -e $2 ]] || : >>"$2"; } ;;
    Directory) [[ -d $2 ]] ;;
    File) [[ -f $2 ]] ;;
    Socket) [[ -S $2 ]] ;;
    CharDevice) [[ -c $2 ]] ;;
    BlockDevice) [[ -b $2 ]] ;;
    *) true ;;
  esac || _il_abort "hostPath volume $2 is not a usable $1"
}

# A requeued job starts afresh; logs are kept (appended).
mkdir -p "$IL_CTR" || exit 1
rm -f "$IL_CTR"/*.exit "$IL_CTR"/*.started "$IL_CTR"/*.finished "$IL_DIR/job.exit" "$IL_DIR/stopping"
printf '%s\\n' "\${SLURM_RESTART_COUNT:-0}" >"$IL_DIR/restarts"
_il_log "pod $IL_POD_NAMESPACE/$IL_POD_NAME ($IL_POD_UID): Slurm job \${SLURM_JOB_ID:-?} on $(hostname)"
`;

function tsocksLines(t: NonNullable<JobSpec['tsocks']>): string[] {
  return [
    '# TSOCKS (site configuration): TCP of the job through an SSH SOCKS tunnel to the login node.',
    'il_tsocks_port=""',
    'for ((p = 10000; p <= 65000; p++)); do',
    '  if ! (: </dev/tcp/127.0.0.1/$p) 2>/dev/null; then il_tsocks_port=$p; break; fi',
    'done',
    `ssh -4 -N -D "$il_tsocks_port" ${sh(t.loginNode, 'tsocksLoginNode')} &`,
    'il_bg+=($!)',
    `printf 'local = 10.0.0.0/255.0.0.0\\nserver = 127.0.0.1\\nserver_port = %s\\n' "$il_tsocks_port" >"$IL_RUN/tsocks.conf"`,
    'export TSOCKS_CONF_FILE="$IL_RUN/tsocks.conf"',
    `export LD_PRELOAD=${sh(t.libPath, 'tsocksPath')}`,
  ];
}

export function renderScript(job: JobSpec): string {
  const out: string[] = [`#!${job.bashPath}`];
  for (const g of job.sbatch) out.push(sbatchLine(g));
  out.push(
    '#',
    '# interLink pod job, generated by `interlink plugin slurm`; do not edit (a new create regenerates it).',
    '',
    `IL_POD_NAMESPACE=${sh(job.pod.namespace)}`,
    `IL_POD_NAME=${sh(job.pod.name)}`,
    `IL_POD_UID=${sh(job.pod.uid)}`,
    `IL_DIR=${sh(job.jobDir)}`,
    `IL_RUNTIME_MARKS_START=${job.runtime === 'docker' || job.runtime === 'podman' ? 1 : 0}`,
    '',
    LIBRARY,
    ...((job.probes?.size ?? 0) + (job.postStarts?.size ?? 0) + (job.preStops?.size ?? 0) > 0
      ? [PROBE_LIBRARY]
      : []),
    ...preStopLines(job),
  );
  const cleanup = cleanupLines(job);
  out.push('_il_cleanup() {', ...(cleanup.length > 0 ? cleanup.map((l) => `  ${l}`) : ['  :']), '}', '');

  if (job.jobEnv.length > 0 || job.commandPrefix || job.tsocks) {
    out.push('# ---- site ----');
    for (const [k, v] of job.jobEnv) {
      if (!SHELL_IDENTIFIER.test(k))
        throw invalidInput(`jobEnv: "${k}" is not a shell variable name`, 'jobEnv');
      out.push(`export ${k}=${sh(v, `jobEnv.${k}`)}`);
    }
    if (job.commandPrefix) out.push(job.commandPrefix);
    if (job.tsocks) out.push(...tsocksLines(job.tsocks));
    out.push('');
  }

  if (!job.sharedFs && (job.dirs.length > 0 || job.files.length > 0)) {
    out.push('# ---- volume and env files (non-shared mode: carried in the script) ----');
    for (const d of job.dirs) out.push(`_il_dir ${mode(d.mode)} ${sh(d.path)}`);
    for (const f of job.files)
      out.push(`_il_file ${mode(f.mode)} ${sh(f.path)} ${sh(f.data.toString('base64'))}`);
    out.push('');
  }
  if (job.hostPaths.length > 0) {
    out.push('# ---- hostPath volumes ----');
    for (const h of job.hostPaths) out.push(`_il_hostpath ${sh(h.type || 'any')} ${sh(h.path)}`);
    out.push('');
  }
  if (job.preExec !== undefined) {
    out.push('# ---- slurm-job.vk.io/pre-exec (pod annotation; shell by intent) ----', job.preExec, '');
  }

  out.push('# ---- containers ----');
  job.containers.forEach((c, i) => {
    out.push(
      `# ${c.kind} container ${i}`,
      `_il_c${i}() {`,
      ...containerBody(job, c).map((l) => `  ${l}`),
      '}',
    );
  });
  out.push('');
  job.containers.forEach((c, i) => {
    const fn = c.kind === 'init' ? '_il_init' : c.kind === 'sidecar' ? '_il_sidecar' : '_il_app';
    out.push(`${fn} ${sh(c.name)} _il_c${i}`);
    const probes = c.kind === 'app' ? job.probes?.get(c.name) : undefined;
    const postStart = c.kind === 'app' ? job.postStarts?.get(c.name) : undefined;
    if (probes || postStart) out.push(...probeLines(job, c, probes ?? [], job.graceSeconds ?? 30, postStart));
  });
  out.push('_il_wait_apps', '_il_finish', '');
  return out.join('\n');
}
