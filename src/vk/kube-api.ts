/**
 * The typed apiserver calls of the VK's node side (Node, Lease, CSR, ConfigMap, Pod,
 * Events, TokenReview, SubjectAccessReview) over `kubeRequest`. Names and parameters are
 * those of `@kubernetes/client-node`'s generated APIs, whose index we no longer load; the
 * client-node types are imported for their shapes only (erased at run time).
 *
 * Answers are the apiserver's JSON as sent: timestamps are RFC 3339 strings despite the
 * types' `Date`. Errors are KubeApiErrors (`code` = HTTP status, as client-node's).
 */
import type {
  CoreV1Event,
  V1CertificateSigningRequest,
  V1ConfigMap,
  V1Lease,
  V1Node,
  V1Pod,
  V1SubjectAccessReview,
  V1TokenReview,
} from '@kubernetes/client-node';
import { kubeRequest } from './kube.ts';
import type { KubeConnection } from './kube-connection.ts';

export const MERGE_PATCH = 'application/merge-patch+json';
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';
export type PatchType = typeof MERGE_PATCH | typeof STRATEGIC_MERGE_PATCH | 'application/json-patch+json';

const seg = encodeURIComponent;
const ns = (namespace: string) => `/api/v1/namespaces/${seg(namespace)}`;

export function coreV1(kc: KubeConnection) {
  const get = <T>(path: string) => kubeRequest<T>(kc, { method: 'GET', path });
  const post = <T>(path: string, body: unknown) => kubeRequest<T>(kc, { method: 'POST', path, body });
  const patch = <T>(path: string, body: unknown, contentType: PatchType) =>
    kubeRequest<T>(kc, { method: 'PATCH', path, body, contentType });
  return {
    readNode: (p: { name: string }) => get<V1Node>(`/api/v1/nodes/${seg(p.name)}`),
    createNode: (p: { body: V1Node }) => post<V1Node>('/api/v1/nodes', p.body),
    patchNode: (p: { name: string; body: unknown }, type: PatchType = MERGE_PATCH) =>
      patch<V1Node>(`/api/v1/nodes/${seg(p.name)}`, p.body, type),
    patchNodeStatus: (p: { name: string; body: unknown }, type: PatchType = STRATEGIC_MERGE_PATCH) =>
      patch<V1Node>(`/api/v1/nodes/${seg(p.name)}/status`, p.body, type),
    readNamespacedConfigMap: (p: { namespace: string; name: string }) =>
      get<V1ConfigMap>(`${ns(p.namespace)}/configmaps/${seg(p.name)}`),
    readNamespacedPod: (p: { namespace: string; name: string }) =>
      get<V1Pod>(`${ns(p.namespace)}/pods/${seg(p.name)}`),
    // Event writes resolve with nothing: the recorder never reads the answer, so it is not parsed.
    createNamespacedEvent: (p: { namespace: string; body: CoreV1Event }): Promise<void> =>
      kubeRequest(kc, { method: 'POST', path: `${ns(p.namespace)}/events`, body: p.body, discard: true }),
    patchNamespacedEvent: (
      p: { namespace: string; name: string; body: unknown },
      contentType: PatchType = MERGE_PATCH,
    ): Promise<void> =>
      kubeRequest(kc, {
        method: 'PATCH',
        path: `${ns(p.namespace)}/events/${seg(p.name)}`,
        body: p.body,
        contentType,
        discard: true,
      }),
  };
}

const LEASES = (namespace: string) => `/apis/coordination.k8s.io/v1/namespaces/${seg(namespace)}/leases`;

export function coordinationV1(kc: KubeConnection) {
  return {
    readNamespacedLease: (p: { namespace: string; name: string }) =>
      kubeRequest<V1Lease>(kc, { method: 'GET', path: `${LEASES(p.namespace)}/${seg(p.name)}` }),
    createNamespacedLease: (p: { namespace: string; body: V1Lease }) =>
      kubeRequest<V1Lease>(kc, { method: 'POST', path: LEASES(p.namespace), body: p.body }),
    replaceNamespacedLease: (p: { namespace: string; name: string; body: V1Lease }) =>
      kubeRequest<V1Lease>(kc, {
        method: 'PUT',
        path: `${LEASES(p.namespace)}/${seg(p.name)}`,
        body: p.body,
      }),
  };
}

const CSRS = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

export function certificatesV1(kc: KubeConnection) {
  return {
    createCertificateSigningRequest: (p: { body: V1CertificateSigningRequest }) =>
      kubeRequest<V1CertificateSigningRequest>(kc, { method: 'POST', path: CSRS, body: p.body }),
    readCertificateSigningRequest: (p: { name: string }) =>
      kubeRequest<V1CertificateSigningRequest>(kc, { method: 'GET', path: `${CSRS}/${seg(p.name)}` }),
    replaceCertificateSigningRequestApproval: (p: { name: string; body: V1CertificateSigningRequest }) =>
      kubeRequest<V1CertificateSigningRequest>(kc, {
        method: 'PUT',
        path: `${CSRS}/${seg(p.name)}/approval`,
        body: p.body,
      }),
  };
}

/** A POST of a review object (TokenReview, SubjectAccessReview): the answer is the object back, filled in. */
const review =
  <T>(kc: KubeConnection, path: string) =>
  (p: { body: T }) =>
    kubeRequest<T>(kc, { method: 'POST', path, body: p.body });

export const authenticationV1 = (kc: KubeConnection) => ({
  createTokenReview: review<V1TokenReview>(kc, '/apis/authentication.k8s.io/v1/tokenreviews'),
});

export const authorizationV1 = (kc: KubeConnection) => ({
  createSubjectAccessReview: review<V1SubjectAccessReview>(
    kc,
    '/apis/authorization.k8s.io/v1/subjectaccessreviews',
  ),
});

export type CoreApi = ReturnType<typeof coreV1>;
export type CoordinationApi = ReturnType<typeof coordinationV1>;
export type CertificatesApi = ReturnType<typeof certificatesV1>;
export type AuthenticationApi = ReturnType<typeof authenticationV1>;
export type AuthorizationApi = ReturnType<typeof authorizationV1>;
