/** The S3 driver's option handling and the Alibaba OSS preset: no network. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeCheckFailure, ossDriverOptions, s3Driver } from '../../src/storage/s3-driver.js';
import { resolveS3Options } from '../../src/storage/s3-options.js';

describe('ossDriverOptions', () => {
  const oss = { region: 'cn-hangzhou', bucket: 'images', accessKeyId: 'LTAIkey', accessKeySecret: 'secret' };

  it('maps to the public endpoint, virtual-hosted style, region as given', () => {
    assert.deepEqual(ossDriverOptions(oss), {
      bucket: 'images',
      region: 'cn-hangzhou',
      endpoint: 'https://oss-cn-hangzhou.aliyuncs.com',
      accessKey: 'LTAIkey',
      secretKey: 'secret',
      forcePathStyle: false,
      conditionalWrites: false,
    });
  });

  it('uses the internal endpoint when asked', () => {
    assert.equal(ossDriverOptions({ ...oss, internal: true }).endpoint, 'https://oss-cn-hangzhou-internal.aliyuncs.com');
  });

  it("accepts Distribution's oss- region form", () => {
    const options = ossDriverOptions({ ...oss, region: 'oss-cn-beijing', internal: true });
    assert.equal(options.endpoint, 'https://oss-cn-beijing-internal.aliyuncs.com');
    assert.equal(options.region, 'oss-cn-beijing');
  });

  it('keeps an explicit endpoint and passes the shared options through', () => {
    assert.equal(ossDriverOptions({ ...oss, endpoint: 'oss-accelerate.aliyuncs.com' }).endpoint, 'https://oss-accelerate.aliyuncs.com');
    const options = ossDriverOptions({ ...oss, endpoint: 'https://registry.example.cn', rootDirectory: 'wharf', redirect: true, encrypt: 'AES256' });
    assert.equal(options.endpoint, 'https://registry.example.cn');
    assert.equal(options.rootDirectory, 'wharf');
    assert.equal(options.redirect, true);
    assert.equal(options.encrypt, 'AES256');
    assert.equal(options.forcePathStyle, false);
  });

  it('builds a driver without touching the network', async () => {
    const driver = s3Driver(ossDriverOptions(oss));
    assert.equal(driver.name, 's3');
    assert.equal(driver.redirectUrl, undefined);
    await driver.close();
  });
});

describe('resolveS3Options', () => {
  const base = { bucket: 'b', region: 'us-east-1' };

  it('applies defaults and normalises the root', () => {
    const resolved = resolveS3Options({ ...base, rootDirectory: '/registry/v2/' });
    assert.equal(resolved.prefix, 'registry/v2/');
    assert.equal(resolved.partSize, 16 * 1024 * 1024);
    assert.equal(resolved.forcePathStyle, false);
    assert.equal(resolved.conditionalWrites, true);
    assert.equal(resolveS3Options(base).prefix, '');
  });

  it("maps the config's encrypt boolean to SSE-S3 or SSE-KMS", () => {
    assert.equal(resolveS3Options({ ...base, encrypt: true }).serverSideEncryption, 'AES256');
    assert.equal(resolveS3Options({ ...base, encrypt: true, kmsKeyId: 'arn:key' }).serverSideEncryption, 'aws:kms');
    assert.equal(resolveS3Options({ ...base, encrypt: false }).serverSideEncryption, undefined);
    assert.equal(resolveS3Options({ ...base, encrypt: 'aws:kms' }).serverSideEncryption, 'aws:kms');
  });

  it('rejects bad settings with the setting named', () => {
    assert.throws(() => resolveS3Options({ ...base, partSize: 1024 }), /partSize/);
    assert.throws(() => resolveS3Options({ ...base, multipartConcurrency: 0 }), /multipartConcurrency/);
    assert.throws(() => resolveS3Options({ ...base, accessKey: 'a' }), /accessKey and secretKey/);
    assert.throws(() => resolveS3Options({ ...base, rootDirectory: 'a/../b c' }), /rootDirectory/);
    assert.throws(() => resolveS3Options({ ...base, kmsKeyId: 'k' }), /kmsKeyId/);
    assert.throws(() => resolveS3Options({ ...base, kmsKeyId: 'k', encrypt: 'AES256' }), /kmsKeyId/);
    assert.throws(() => resolveS3Options({ ...base, bucket: '' }), /bucket/);
  });
});

describe('describeCheckFailure', () => {
  const options = { bucket: 'images', region: 'eu-west-1', endpoint: 'http://127.0.0.1:9000' };
  const s3Error = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

  it('names each problem', () => {
    assert.match(describeCheckFailure(s3Error('NotFound', 404), options), /^bucket images does not exist/);
    assert.match(describeCheckFailure(s3Error('Forbidden', 403), options), /^access denied: check accessKey\/secretKey/);
    assert.match(describeCheckFailure(s3Error('PermanentRedirect', 301), options), /not in region eu-west-1/);
    assert.match(describeCheckFailure(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }), options), /^cannot reach endpoint http:\/\/127\.0\.0\.1:9000: ECONNREFUSED$/);
    assert.match(describeCheckFailure(Object.assign(new Error('dns'), { code: 'ENOTFOUND' }), { ...options, endpoint: undefined }), /cannot reach endpoint https:\/\/s3\.eu-west-1\.amazonaws\.com: ENOTFOUND/);
  });
});
