/**
 * deploy/kubernetes/: every manifest validates against the Kubernetes API schemas (kubernetes-models;
 * there is no cluster here), the ConfigMap's config.yml is a valid Wharf config with the Secret's
 * values, and the pieces fit together (labels, probes, ports, a read-only non-root container).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { loadConfig } from '../../src/config/index.js';
import { makeTempDir } from '../fixtures/paths.js';
import { repoRoot } from '../fixtures/paths.js';

const DIR = path.join(repoRoot, 'deploy', 'kubernetes');

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> } } & Record<string, unknown>;

const models: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
};

function validate(manifest: Manifest): void {
  const Model = models[`${manifest.apiVersion}/${manifest.kind}`];
  assert.ok(Model, `no schema for ${manifest.apiVersion} ${manifest.kind}`);
  new Model(manifest as never).validate();
}

const files = readdirSync(DIR).filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml').sort();
const manifests = files.flatMap((name) => YAML.parseAllDocuments(readFileSync(path.join(DIR, name), 'utf8')).map((doc) => doc.toJSON() as Manifest));
const byKind = (kind: string) => manifests.find((m) => m.kind === kind)!;

describe('deploy/kubernetes', () => {
  it('every manifest validates against the Kubernetes API schemas', () => {
    assert.ok(manifests.length >= 6);
    for (const manifest of manifests) assert.doesNotThrow(() => validate(manifest), `${manifest.kind} ${manifest.metadata.name}`);
  });

  it('the validation rejects what the API server would', () => {
    const deployment = structuredClone(byKind('Deployment')) as { spec: { template: { spec: { containers: Array<{ ports: Array<{ containerPort: unknown }> }> } } } } & Manifest;
    deployment.spec.template.spec.containers[0]!.ports[0]!.containerPort = 'five thousand';
    assert.throws(() => validate(deployment));
    const pdb = structuredClone(byKind('PodDisruptionBudget')) as Manifest & { spec: Record<string, unknown> };
    pdb.spec.selector = 'app=wharf';
    assert.throws(() => validate(pdb));
  });

  it('kustomization.yaml lists every manifest', () => {
    const kustomization = YAML.parse(readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    assert.deepEqual([...kustomization.resources].sort(), files);
  });

  it('the ConfigMap holds a valid Wharf config for PostgreSQL and object storage, secrets from the Secret', async () => {
    const configMap = byKind('ConfigMap') as Manifest & { data: Record<string, string> };
    const secret = byKind('Secret') as Manifest & { stringData: Record<string, string> };
    const dir = await makeTempDir('wharf-k8s-');
    const file = path.join(dir, 'config.yml');
    writeFileSync(file, configMap.data['config.yml']!);
    const config = loadConfig({ file, env: secret.stringData });
    assert.equal(config.database.driver, 'postgres');
    assert.equal(config.database.postgres?.url, secret.stringData.DATABASE_URL);
    assert.equal(config.storage.driver, 's3');
    assert.equal(config.storage.s3?.secretKey, secret.stringData.S3_SECRET_KEY);
    assert.equal(config.http.trustProxy, true);
    assert.ok(!configMap.data['config.yml']!.includes('change-me'), 'no secret in the ConfigMap');
  });

  it('the Deployment: probes on /healthz and /readyz, resources, a read-only non-root container, labels that match', () => {
    type Probe = { httpGet: { path: string; port: string } };
    type Container = {
      args: string[];
      ports: Array<{ name: string; containerPort: number }>;
      livenessProbe: Probe;
      readinessProbe: Probe;
      resources: { requests: Record<string, string>; limits: Record<string, string> };
      securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean; capabilities: { drop: string[] } };
      volumeMounts: Array<{ name: string; mountPath: string }>;
    };
    const deployment = byKind('Deployment') as Manifest & {
      spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: { securityContext: { runAsNonRoot: boolean }; containers: Container[]; terminationGracePeriodSeconds: number } } };
    };
    const pod = deployment.spec.template.spec;
    const [container] = pod.containers as [Container];
    assert.ok(deployment.spec.replicas >= 2);
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.ok(container.resources.requests.cpu && container.resources.requests.memory && container.resources.limits.memory);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
    assert.ok(pod.terminationGracePeriodSeconds > 30, 'longer than the 30 s shutdown grace period');
    assert.deepEqual(container.volumeMounts.map((m) => m.mountPath).sort(), ['/data', '/etc/wharf', '/tmp']);
    assert.equal(container.ports[0]!.containerPort, 5000);

    const labels = deployment.spec.template.metadata.labels;
    const matches = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    assert.ok(matches(deployment.spec.selector.matchLabels));
    assert.ok(matches((byKind('Service') as Manifest & { spec: { selector: Record<string, string> } }).spec.selector));
    assert.ok(matches((byKind('PodDisruptionBudget') as Manifest & { spec: { selector: { matchLabels: Record<string, string> } } }).spec.selector.matchLabels));
  });
});
