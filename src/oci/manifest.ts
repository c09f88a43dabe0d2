import { RegistryError } from '../errors.js';
import { parseDigest, type Digest } from './digest.js';
import { isSchema1, manifestKind, MediaType, type ManifestKind } from './media-types.js';

/** A content descriptor as it appears inside a manifest. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  artifactType?: string;
  platform?: Platform;
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
}

/** What the registry needs to know about a manifest it is asked to store. */
export interface ParsedManifest {
  mediaType: string;
  kind: ManifestKind;
  /** Blobs that must exist in the repository: config and layers (image manifests only). */
  blobs: Descriptor[];
  /** Child manifests that must exist in the repository (indexes only). */
  manifests: Descriptor[];
  config?: Descriptor;
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

const MAX_DESCRIPTORS = 10_000;

/**
 * Parses and validates a manifest body against the media type the client declared.
 * Throws MANIFEST_INVALID with a detail that says what is wrong.
 */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw invalid(`manifest is not valid JSON: ${(error as Error).message}`);
  }
  if (!isObject(json)) throw invalid('manifest must be a JSON object');

  const declared = typeof json.mediaType === 'string' ? json.mediaType : undefined;
  if (json.schemaVersion === 1 || (contentType && isSchema1(contentType) && contentType !== 'application/json')) {
    throw new RegistryError('MANIFEST_INVALID', 'Docker schema 1 manifests are not supported; push the image as Docker schema 2 or OCI', {
      detail: { mediaType: contentType ?? declared ?? null },
    });
  }
  if (json.schemaVersion !== 2) throw invalid('schemaVersion must be 2');

  if (declared && contentType && contentType !== 'application/json' && declared !== contentType) {
    throw invalid(`Content-Type ${contentType} does not match the manifest's mediaType ${declared}`);
  }
  const mediaType = declared ?? (contentType && contentType !== 'application/json' ? contentType : inferMediaType(json));
  const kind = manifestKind(mediaType);
  if (!kind) throw invalid(`unsupported manifest media type ${mediaType}`);

  const subject = json.subject === undefined ? undefined : descriptor(json.subject, 'subject');
  const artifactType = optionalString(json.artifactType, 'artifactType');
  const annotations = optionalAnnotations(json.annotations, 'annotations');

  if (kind === 'image') {
    const config = descriptor(json.config, 'config');
    if (!Array.isArray(json.layers)) {
      if (mediaType === MediaType.dockerManifest || json.layers !== undefined) throw invalid('layers must be an array');
    }
    const layersRaw: unknown[] = Array.isArray(json.layers) ? json.layers : [];
    if (layersRaw.length > MAX_DESCRIPTORS) throw invalid('too many layers');
    const layers = layersRaw.map((layer, i) => descriptor(layer, `layers[${i}]`));
    return { mediaType, kind, blobs: [config, ...layers], manifests: [], config, subject, artifactType, annotations };
  }

  if (!Array.isArray(json.manifests)) throw invalid('manifests must be an array');
  if (json.manifests.length > MAX_DESCRIPTORS) throw invalid('too many manifests');
  const manifests = json.manifests.map((m, i) => descriptor(m, `manifests[${i}]`));
  return { mediaType, kind, blobs: [], manifests, subject, artifactType, annotations };
}

/** Layers that are not distributed by registries (foreign Windows layers) need not exist. */
export function mustExist(descriptorValue: Descriptor): boolean {
  const nonDistributable = /foreign|nondistributable/.test(descriptorValue.mediaType);
  return !(nonDistributable && (descriptorValue.urls?.length ?? 0) > 0);
}

/** The artifact type a referrers list reports for a manifest (spec: config media type fallback). */
export function referrerArtifactType(parsed: Pick<ParsedManifest, 'kind' | 'artifactType' | 'config'>): string | undefined {
  if (parsed.artifactType) return parsed.artifactType;
  return parsed.kind === 'image' ? parsed.config?.mediaType : undefined;
}

export function descriptorDigest(value: Descriptor): Digest {
  return parseDigest(value.digest);
}

function inferMediaType(json: Record<string, unknown>): string {
  if (Array.isArray(json.manifests)) return MediaType.ociIndex;
  if (json.config !== undefined) return MediaType.ociManifest;
  throw invalid('manifest has no mediaType and its type cannot be inferred');
}

function descriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw invalid(`${where} must be a descriptor object`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string' || mediaType.length === 0) throw invalid(`${where}.mediaType must be a string`);
  if (typeof digest !== 'string') throw invalid(`${where}.digest must be a string`);
  try {
    parseDigest(digest);
  } catch {
    throw invalid(`${where}.digest is not a valid digest`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${where}.size must be a non-negative integer`);
  const result: Descriptor = { mediaType, digest, size };
  if (value.urls !== undefined) {
    if (!Array.isArray(value.urls) || !value.urls.every((u) => typeof u === 'string')) throw invalid(`${where}.urls must be strings`);
    result.urls = value.urls as string[];
  }
  const annotations = optionalAnnotations(value.annotations, `${where}.annotations`);
  if (annotations) result.annotations = annotations;
  const artifactType = optionalString(value.artifactType, `${where}.artifactType`);
  if (artifactType) result.artifactType = artifactType;
  if (isObject(value.platform)) {
    const { architecture, os } = value.platform;
    if (typeof architecture !== 'string' || typeof os !== 'string') throw invalid(`${where}.platform needs architecture and os`);
    result.platform = value.platform as unknown as Platform;
  }
  return result;
}

function optionalString(value: unknown, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`${where} must be a string`);
  return value.length > 0 ? value : undefined;
}

function optionalAnnotations(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw invalid(`${where} must map strings to strings`);
  }
  return value as Record<string, string>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message, { detail: { reason: message } });
}
