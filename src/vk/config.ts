/**
 * The virtual kubelet's configuration: one schema for the pod side and the node side.
 *
 * Sources, lowest to highest precedence: defaults, the YAML file (`--config`, or the
 * predecessor's env `VKCONFIGPATH`), environment variables, command-line flags. Keys
 * match without regard to case, `_` or `-`, so interLink 0.6 files (`InterlinkURL`,
 * `VKTokenFile`, `Resources.CPU`, `KubeletHTTP`, `NodeTaints[].Key`) load unchanged.
 *
 * Every field is optional in the file; the defaults are written here, where the option is
 * read (STYLE habit 10).
 */
import { z } from 'zod';
import { BoolLike, type ConfigInput, configNames, loadConfig, normalizeKey, Port } from '../core/config.ts';
import { type Endpoint, parseEndpoint } from '../core/endpoint.ts';
import { LogLevel } from '../core/logger.ts';
import { invalidInput } from '../errors/index.ts';

/**
 * An object whose keys match case/underscore-insensitively. loadConfig canonicalizes
 * nested objects but not array items, so list entries (taints, accelerators) use this.
 */
function looseKeys<T extends z.ZodRawShape>(shape: T) {
  const byNorm = new Map(Object.keys(shape).map((k) => [normalizeKey(k), k]));
  return z.preprocess((raw) => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(raw as Record<string, unknown>))
      out[byNorm.get(normalizeKey(k)) ?? k] = v;
    return out;
  }, z.object(shape));
}

/** A duration in milliseconds, from YAML (number) or env (string). */
const Millis = z.coerce.number().int().min(0);
const PositiveInt = z.coerce.number().int().min(1);
/** A Kubernetes quantity as a string ("100", "128Gi", "500m"); numbers from YAML are accepted. */
const Quantity = z.union([z.string().min(1), z.number()]).transform(String);

export const Accelerator = looseKeys({
  /** Extended resource name, e.g. `nvidia.com/gpu`. */
  resourceType: z.string().min(1),
  /** Model label value (the node gets a label naming it, e.g. `nvidia.com/gpu.product=a100`). */
  model: z.string().default(''),
  available: z.coerce.number().int().min(0).default(0),
});

export const TaintSpec = looseKeys({
  key: z.string().min(1),
  value: z.string().default(''),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']),
});

/**
 * Node labels: the predecessor's list of `key=value` strings, or a mapping. Always a
 * mapping after parsing.
 */
const NodeLabels = z
  .union([z.array(z.string()), z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]))])
  .transform((v, ctx) => {
    const out: Record<string, string> = {};
    if (Array.isArray(v)) {
      for (const item of v) {
        const eq = item.indexOf('=');
        if (eq <= 0) {
          ctx.addIssue({ code: 'custom', message: `node label "${item}" is not key=value` });
          continue;
        }
        out[item.slice(0, eq)] = item.slice(eq + 1);
      }
    } else {
      for (const [k, val] of Object.entries(v)) out[k] = String(val);
    }
    return out;
  });

export const VkConfigSchema = z.object({
  /** Name of the virtual node (flag --nodename, env NODENAME). */
  nodeName: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a lower-case RFC 1123 subdomain')
    .default('interlink-node'),
  /** Kubeconfig file (flag --kubeconfig, env KUBECONFIG; a `:`-separated list is merged as kubectl does); absent: in-cluster config. */
  kubeconfig: z.string().optional(),
  /** Kubeconfig context to use instead of its current-context (flag --context). */
  kubeContext: z.string().optional(),

  /** interLink API: `http(s)://host` + port, or `unix:///path` (port ignored). */
  interlinkUrl: z.string().default('http://127.0.0.1'),
  interlinkPort: Port.optional(),
  /** Bearer token for the API, re-read once the copy in memory is a second old (a sidecar may rotate it). */
  vkTokenFile: z.string().optional(),
  /** Per-call timeout towards the API (streams: only until the headers). */
  interlinkTimeoutMs: PositiveInt.default(30_000),
  /** TLS towards the API (predecessor `HTTP`). */
  http: z
    .object({
      /** Skip verification of the API's certificate (explicit opt-in, warned about). */
      insecure: BoolLike.default(false),
      /** CA file that signed the API's certificate. */
      caCert: z.string().optional(),
    })
    .default({ insecure: false }),
  /** Client certificate towards the API (mTLS; predecessor `TLS`). */
  tls: z
    .object({
      enabled: BoolLike.default(false),
      certFile: z.string().optional(),
      keyFile: z.string().optional(),
      caCertFile: z.string().optional(),
    })
    .default({ enabled: false }),

  /** Capacity and allocatable of the node; updated from the plugin's PingResponse. */
  resources: z
    .object({
      cpu: Quantity.default('100'),
      memory: Quantity.default('128Gi'),
      pods: Quantity.default('1000'),
      accelerators: z.array(Accelerator).default([]),
    })
    .default({ cpu: '100', memory: '128Gi', pods: '1000', accelerators: [] }),
  /** Extra node labels (on top of the fixed virtual-kubelet ones). */
  nodeLabels: NodeLabels.default({}),
  /** Extra node taints (on top of `virtual-node.interlink/no-schedule=true:NoSchedule`). */
  nodeTaints: z.array(TaintSpec).default([]),

  /** The node's kubelet API (HTTPS; predecessor `KubeletHTTP`). */
  kubeletHttp: z
    .object({
      port: Port.default(10250),
      /** Address to bind; the node's InternalIP is `podIp`. */
      address: z.string().default('0.0.0.0'),
      certFile: z.string().optional(),
      keyFile: z.string().optional(),
      /** CA that signs the apiserver's client certificate (kubelet-client). */
      clientCaFile: z.string().optional(),
      /** Obtain the serving certificate by a kubernetes.io/kubelet-serving CSR. */
      csr: BoolLike.default(false),
      /** Approve our own CSR (needs RBAC to approve for that signer). */
      selfApprove: BoolLike.default(false),
      /** Serve plain HTTP (predecessor `KubeletHTTP.Insecure`); for local development only. */
      insecure: BoolLike.default(false),
    })
    .default({ port: 10250, address: '0.0.0.0', csr: false, selfApprove: false, insecure: false }),
  /** The node's InternalIP and the pods' hostIP/podIP (env POD_IP). */
  podIp: z.string().optional(),

  /** Interval of the one batched `/status` call for all active pods. */
  statusIntervalMs: PositiveInt.default(2_000),
  /**
   * A pod just created is asked about this soon (one extra `/status` call, at most one per
   * this long, only for pods with no answer yet) instead of waiting for the interval; 0 = off
   * (e.g. a backend where a status call is costly and pods never start at once).
   */
  statusFirstLookMs: Millis.default(250),
  /** Interval of `/pinglink` (node conditions, capacity). */
  pingIntervalMs: PositiveInt.default(10_000),
  /**
   * The node turns NotReady when no ping has succeeded for this long (failed pings before
   * that are logged and counted, not reported), as the kubelet waits 30 s for its container
   * runtime. 0: at the first failed ping.
   */
  notReadyAfterMs: z.coerce.number().int().min(0).default(30_000),
  /** Lease duration and renewal (node heartbeat). */
  leaseDurationSeconds: PositiveInt.default(40),
  leaseRenewIntervalMs: PositiveInt.default(10_000),
  /** Node status is patched at least this often even when nothing changed. */
  nodeStatusIntervalMs: PositiveInt.default(60_000),
  /** Pods reconciled concurrently (a pod never by two workers at once). */
  workers: PositiveInt.default(20),
  /**
   * Event writes per second once `eventBurst` is spent (kubelet `eventRecordQPS`); 0 = no
   * limit. Events beyond it are written late, never dropped: pods moving at once get their
   * status written first.
   */
  eventRecordQps: z.coerce.number().min(0).default(50),
  /** Event writes that may go at once after a quiet spell (kubelet `eventBurst`). */
  eventBurst: PositiveInt.default(100),
  /** How long a pod waits for a missing ConfigMap/Secret before it fails with ProviderFailed. */
  missingResourceTimeoutMs: Millis.default(30_000),
  /**
   * Interval of the orphan sweep: `GET /list` on the API, then backend pods no Pod of this
   * node owns are deleted. 0 turns it off. Assumes the API serves this virtual node only.
   */
  orphanSweepIntervalMs: Millis.default(60_000),
  /** A backend pod must be seen orphaned this long before the sweep deletes it (a create in flight). */
  orphanGraceMs: Millis.default(30_000),
  /** A created pod absent from the backend's status answers this long is marked Failed. */
  backendLostTimeoutMs: Millis.default(60_000),
  /** Lifetime asked for projected service-account tokens (the apiserver may shorten it). */
  serviceAccountTokenSeconds: PositiveInt.default(3_600),
  /** Tokens are re-requested (and re-delivered) after this fraction of their lifetime (kubelet: 0.8). */
  tokenRefreshFraction: z.coerce.number().gt(0).max(0.95).default(0.8),
  /**
   * How often (s) a running pod's volume ConfigMaps and Secrets are looked at again (their
   * versions, from one metadata-only watch per namespace); a new version is re-sent with fresh
   * tokens, and our plugins rewrite the files (kubelet: about 60-90 s). 0 = never.
   */
  volumeResyncSeconds: z.coerce.number().int().min(0).default(60),

  /** KUBERNETES_SERVICE_HOST/PORT given to pods (predecessor KubernetesApiAddr/Port); only when set. */
  kubernetesServiceHost: z.string().optional(),
  kubernetesServicePort: Port.optional(),
  /** Serve on-demand CPU profiles and heap snapshots at /debug/pprof/* on the kubelet API (authenticated and authorized as nodes/proxy; never on the unauthenticated metrics port). */
  debugEndpoints: BoolLike.default(false),
  /** Plain HTTP /metrics, /healthz, /readyz; 0 = off. */
  metricsPort: Port.default(0),
  metricsAddress: z.string().default('0.0.0.0'),
  logLevel: LogLevel.default('info'),
});

export type VkConfig = z.output<typeof VkConfigSchema>;
export type AcceleratorSpec = z.output<typeof Accelerator>;
export type NodeTaintSpec = z.output<typeof TaintSpec>;

/** Other names of the settings: `$` environment variables, interLink 0.6 keys. */
export const VK_CONFIG_SPEC = configNames({
  nodeName: ['$NODENAME'],
  kubeconfig: ['$KUBECONFIG'],
  interlinkUrl: ['$INTERLINKURL', 'InterlinkAddress'],
  interlinkPort: ['$INTERLINKPORT'],
  vkTokenFile: ['$VKTOKENFILE'],
  logLevel: ['$LOG_LEVEL'],
  kubernetesServiceHost: ['KubernetesApiAddr'],
  kubernetesServicePort: ['KubernetesApiPort'],
  podIp: ['$POD_IP', 'InternalIP'],
  'kubeletHttp.certFile': ['KubeletHTTP.CertFile'],
  'kubeletHttp.keyFile': ['KubeletHTTP.KeyFile'],
  'kubeletHttp.clientCaFile': ['KubeletHTTP.CaCert'],
  'tls.caCertFile': ['TLS.CACertFile'],
  workers: ['PodSyncWorkers'],
});

export interface VkFlags {
  nodeName?: string | undefined;
  kubeconfig?: string | undefined;
  kubeContext?: string | undefined;
}

/**
 * Load and validate. Throws INVALID_INPUT naming the key and its source. The config file
 * is `input.file`, else env `VKCONFIGPATH` (interLink 0.6), else none.
 */
export function loadVkConfig(input: ConfigInput & { flags?: VkFlags } = {}): VkConfig {
  const env = input.env ?? process.env;
  const file = input.file ?? (env.VKCONFIGPATH || undefined);
  const overrides: Record<string, unknown> = { ...input.overrides };
  if (input.flags?.nodeName) overrides.nodeName = input.flags.nodeName;
  if (input.flags?.kubeconfig) overrides.kubeconfig = input.flags.kubeconfig;
  if (input.flags?.kubeContext) overrides.kubeContext = input.flags.kubeContext;
  const config = loadConfig(VkConfigSchema, VK_CONFIG_SPEC, { ...input, env, file, overrides });
  // Fail at start-up, not at the first call.
  interlinkEndpoint(config);
  if (config.tls.enabled && (!config.tls.certFile || !config.tls.keyFile)) {
    throw invalidInput('invalid configuration: tls.enabled needs tls.certFile and tls.keyFile', 'tls');
  }
  if (Boolean(config.kubeletHttp.certFile) !== Boolean(config.kubeletHttp.keyFile)) {
    throw invalidInput(
      'invalid configuration: kubeletHttp.certFile and kubeletHttp.keyFile go together',
      'kubeletHttp',
    );
  }
  return config;
}

/** Where the interLink API is: port 3000 unless the URL or InterlinkPort says otherwise. */
export function interlinkEndpoint(config: Pick<VkConfig, 'interlinkUrl' | 'interlinkPort'>): Endpoint {
  const url = config.interlinkUrl;
  const hasPort = /^[a-z]+:\/\/(\[[^\]]*\]|[^/:]*):\d+/i.test(url) || /^[^/:]+:\d+/.test(url);
  const port = config.interlinkPort ?? (url.startsWith('unix://') || hasPort ? undefined : 3000);
  return parseEndpoint(url, port, 'interlinkUrl');
}
