// Values handed from global setup to tests with project.provide / inject.
declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of an admin kubeconfig for the real control plane. */
    kubeconfig: string;
    /** Directory of the control-plane binaries (kubectl, ...). */
    k8sBinDir: string;
    /** Docker host (DOCKER_HOST value) of the real dockerd. */
    dockerHost: string;
    /** Name of the busybox image built locally for tests. */
    testImage: string;
    /** SLURM_CONF of the real one-node Slurm. */
    slurmConf: string;
  }
}
export {};
