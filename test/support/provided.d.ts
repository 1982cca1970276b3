// Values handed from global setup to tests with project.provide / inject.
declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of an admin kubeconfig for the real control plane. */
    kubeconfig: string;
    /** Directory of the control-plane binaries (kubectl, ...). */
    k8sBinDir: string;
    /** URL of the real kube-apiserver (https://127.0.0.1:<port>). */
    k8sServer: string;
    /** The cluster CA (PEM path): the apiserver trusts kubelet serving certs it signed. */
    caCertPath: string;
    /** The cluster CA key: tests may sign certs with it (src/devcluster/pki.ts issueCert). */
    caKeyPath: string;
    /** Docker host (DOCKER_HOST value) of the real dockerd. */
    dockerHost: string;
    /** The docker client binary matching that dockerd (Debian's /usr/bin/docker). */
    dockerCli: string;
    /** Name of the busybox image built locally for tests. */
    testImage: string;
    /** SLURM_CONF of the real one-node Slurm. */
    slurmConf: string;
    /** OTEL_EXPORTER_OTLP_ENDPOINT of the real trace receiver (Jaeger all-in-one). */
    otlpEndpoint: string;
    /** Base URL of that Jaeger's query HTTP API. */
    jaegerQuery: string;
  }
}

export {};
