import { readFileSync } from 'node:fs';
import { RetrievedPodDataBody } from '../src/wire/interlink.ts';
const x = JSON.parse(readFileSync('test/wire/fixtures/retrieved-pod-data.json', 'utf8'));
x.container[0].emptyDirs = [1];
console.log(JSON.stringify(RetrievedPodDataBody.safeParse(x).error?.issues, null, 1).slice(0, 1500));
const y = JSON.parse(readFileSync('test/wire/fixtures/retrieved-pod-data.json', 'utf8'));
y.pod.spec.containers[0].name = 'Bad Name';
console.log(JSON.stringify(RetrievedPodDataBody.safeParse(y).error?.issues, null, 1).slice(0, 1500));
