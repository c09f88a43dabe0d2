/** Server settings for webhook tests: receivers on 127.0.0.1 are allowed, retries and polls are quick. */
export const webhookTestConfig = {
  auth: { mode: 'basic' },
  webhooks: { allowedNetworks: ['127.0.0.1/32'], retryBaseMs: 150, retryMaxMs: 600, pollIntervalMs: 100, timeoutMs: 2000, maxAttempts: 4 },
};
