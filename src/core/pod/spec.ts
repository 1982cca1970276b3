/**
 * The parts of a v1.Pod a container backend reads, as a typed view shared by every plugin. src/wire/k8s.ts checks
 * only what every hop needs; this adds the container and volume fields a container runtime
 * needs, so that a malformed field fails the create with INVALID_INPUT naming it instead of
 * surfacing as a docker error. Loose objects: unknown fields are ignored, never rejected.
 */
import { z } from 'zod';
import { invalidInput } from '../../errors/index.ts';
import {
  DataKey,
  DnsLabel,
  EnvPrefix,
  EnvVarName,
  Image,
  type Pod,
  ProcessString,
  RelativePath,
  SubPath,
} from '../../wire/k8s.ts';

const Quantity = z.union([z.string(), z.number()]);
const ResourceList = z.record(z.string(), Quantity);
const Mode = z.number().int().min(0).max(0o777);
const Opt = <T extends z.ZodType>(t: T) => t.nullish().transform((v) => v ?? undefined);

export const KeyToPath = z.looseObject({ key: DataKey, path: RelativePath, mode: Opt(Mode) });

export const ObjectFieldSelector = z.looseObject({
  fieldPath: z.string().min(1),
  apiVersion: Opt(z.string()),
});
export const ResourceFieldSelector = z.looseObject({
  containerName: Opt(z.string()),
  resource: z.string().min(1),
  divisor: Opt(Quantity),
});

export const EnvVar = z.looseObject({
  name: EnvVarName,
  value: Opt(ProcessString),
  valueFrom: Opt(
    z.looseObject({
      configMapKeyRef: Opt(z.looseObject({ name: z.string(), key: z.string(), optional: Opt(z.boolean()) })),
      secretKeyRef: Opt(z.looseObject({ name: z.string(), key: z.string(), optional: Opt(z.boolean()) })),
      fieldRef: Opt(ObjectFieldSelector),
      resourceFieldRef: Opt(ResourceFieldSelector),
    }),
  ),
});

export const EnvFromSource = z.looseObject({
  prefix: Opt(EnvPrefix),
  configMapRef: Opt(z.looseObject({ name: z.string(), optional: Opt(z.boolean()) })),
  secretRef: Opt(z.looseObject({ name: z.string(), optional: Opt(z.boolean()) })),
});

export const VolumeMount = z.looseObject({
  name: DnsLabel,
  mountPath: z.string().min(1),
  subPath: Opt(SubPath),
  subPathExpr: Opt(z.string()),
  readOnly: Opt(z.boolean()),
});

export const SecurityContext = z.looseObject({
  runAsUser: Opt(z.number().int().min(0)),
  runAsGroup: Opt(z.number().int().min(0)),
  runAsNonRoot: Opt(z.boolean()),
  privileged: Opt(z.boolean()),
  readOnlyRootFilesystem: Opt(z.boolean()),
  allowPrivilegeEscalation: Opt(z.boolean()),
  capabilities: Opt(z.looseObject({ add: Opt(z.array(z.string())), drop: Opt(z.array(z.string())) })),
});

export const PodSecurityContext = z.looseObject({
  runAsUser: Opt(z.number().int().min(0)),
  runAsGroup: Opt(z.number().int().min(0)),
  runAsNonRoot: Opt(z.boolean()),
  supplementalGroups: Opt(z.array(z.number().int().min(0))),
  fsGroup: Opt(z.number().int().min(0)),
});

export const ContainerSpec = z.looseObject({
  name: DnsLabel,
  image: Image,
  imagePullPolicy: Opt(z.enum(['Always', 'IfNotPresent', 'Never'])),
  command: Opt(z.array(ProcessString)),
  args: Opt(z.array(ProcessString)),
  workingDir: Opt(z.string()),
  env: Opt(z.array(EnvVar)),
  envFrom: Opt(z.array(EnvFromSource)),
  resources: Opt(z.looseObject({ limits: Opt(ResourceList), requests: Opt(ResourceList) })),
  volumeMounts: Opt(z.array(VolumeMount)),
  securityContext: Opt(SecurityContext),
  /** Only on init containers: `Always` makes it a sidecar (KEP-753). */
  restartPolicy: Opt(z.enum(['Always'])),
  tty: Opt(z.boolean()),
  stdin: Opt(z.boolean()),
});

const Items = Opt(z.array(KeyToPath));

export const DownwardAPIFile = z.looseObject({
  path: RelativePath,
  fieldRef: Opt(ObjectFieldSelector),
  resourceFieldRef: Opt(ResourceFieldSelector),
  mode: Opt(Mode),
});

export const Volume = z.looseObject({
  name: DnsLabel,
  configMap: Opt(
    z.looseObject({ name: z.string(), items: Items, defaultMode: Opt(Mode), optional: Opt(z.boolean()) }),
  ),
  secret: Opt(
    z.looseObject({
      secretName: z.string(),
      items: Items,
      defaultMode: Opt(Mode),
      optional: Opt(z.boolean()),
    }),
  ),
  projected: Opt(
    z.looseObject({
      defaultMode: Opt(Mode),
      sources: Opt(
        z.array(
          z.looseObject({
            configMap: Opt(z.looseObject({ name: z.string(), items: Items, optional: Opt(z.boolean()) })),
            secret: Opt(z.looseObject({ name: z.string(), items: Items, optional: Opt(z.boolean()) })),
            downwardAPI: Opt(z.looseObject({ items: Opt(z.array(DownwardAPIFile)) })),
            serviceAccountToken: Opt(z.looseObject({ path: RelativePath })),
          }),
        ),
      ),
    }),
  ),
  downwardAPI: Opt(z.looseObject({ items: Opt(z.array(DownwardAPIFile)), defaultMode: Opt(Mode) })),
  emptyDir: Opt(z.looseObject({ medium: Opt(z.string()), sizeLimit: Opt(Quantity) })),
  hostPath: Opt(z.looseObject({ path: z.string().min(1), type: Opt(z.string()) })),
});

export const PodSpecView = z.looseObject({
  containers: z.array(ContainerSpec).min(1),
  initContainers: Opt(z.array(ContainerSpec)),
  volumes: Opt(z.array(Volume)),
  restartPolicy: Opt(z.enum(['Always', 'OnFailure', 'Never'])),
  securityContext: Opt(PodSecurityContext),
  terminationGracePeriodSeconds: Opt(z.number().int().min(0)),
  hostNetwork: Opt(z.boolean()),
  hostname: Opt(z.string()),
  nodeName: Opt(z.string()),
  serviceAccountName: Opt(z.string()),
});

/** Who a pod is, in every name and label a backend gives it. */
export interface PodRef {
  uid: string;
  namespace: string;
  name: string;
}

export type ContainerSpec = z.output<typeof ContainerSpec>;
export type EnvVar = z.output<typeof EnvVar>;
export type VolumeMount = z.output<typeof VolumeMount>;
export type Volume = z.output<typeof Volume>;
export type KeyToPath = z.output<typeof KeyToPath>;
export type DownwardAPIFile = z.output<typeof DownwardAPIFile>;
export type PodSpecView = z.output<typeof PodSpecView>;
export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

/** The typed spec of a pod, or INVALID_INPUT naming the first bad field (`pod.spec.containers.0.image`). */
export function podSpecOf(pod: Pod): PodSpecView {
  const parsed = PodSpecView.safeParse(pod.spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = ['pod', 'spec', ...issue.path.map(String)].join('.');
    throw invalidInput(`${field}: ${issue.message}`, field);
  }
  return parsed.data;
}
