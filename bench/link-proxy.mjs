#!/usr/bin/env node
// link-proxy.mjs: a TCP proxy that makes a local server look like one across a slow link — what a
// mirror's upstream (Docker Hub across the internet) is to the mirror. Every connection's bytes
// from the target share one downlink of --mibps (a token bucket, served round-robin between the
// connections that have bytes waiting, so parallel downloads split it as TCP flows would), and
// both directions are delayed by half of --rtt-ms; a new connection waits one round trip before
// it reaches the target (the handshake). Requests toward the target are small and not shaped.
//
// Plain Node.js, no dependencies; for bench/mirror-compare.sh (LINK_MIBPS). Binds 127.0.0.1 only.
// Usage: node bench/link-proxy.mjs --listen PORT --target PORT [--mibps 100] [--rtt-ms 20]
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { listen: { type: 'string' }, target: { type: 'string' }, mibps: { type: 'string', default: '100' }, 'rtt-ms': { type: 'string', default: '20' } },
});
const listenPort = Number(values.listen);
const targetPort = Number(values.target);
const bytesPerMs = (Number(values.mibps) * 1048576) / 1000;
const halfRtt = Number(values['rtt-ms']) / 2;
if (!(listenPort > 0 && targetPort > 0 && bytesPerMs > 0 && halfRtt >= 0)) {
  console.error('usage: node bench/link-proxy.mjs --listen PORT --target PORT [--mibps N] [--rtt-ms N]');
  process.exit(2);
}

/** Bytes a connection may have waiting for the link before its target socket is paused. */
const QUEUE_HIGH = 1 << 20;
/** The most one turn of the round-robin sends for a connection (a few packets' worth). */
const SLICE = 16 << 10;
/** The bucket holds at most this much time's worth of tokens: an idle link does not bank a burst. */
const BURST_MS = 5;

const waiting = new Set(); // connections with bytes queued for the downlink
let tokens = 0;
let last = performance.now();
// The link's clock ticks only while bytes wait: an idle proxy wakes nobody on the measured machine.
let ticking;

const later = (fn) => (halfRtt > 0 ? setTimeout(fn, halfRtt) : fn());

function pump() {
  const now = performance.now();
  tokens = Math.min(tokens + (now - last) * bytesPerMs, BURST_MS * bytesPerMs);
  last = now;
  for (let sent = true; sent && tokens >= 1; ) {
    sent = false;
    for (const link of waiting) {
      // A receiver that does not keep up holds its own bytes back, not the link's other flows.
      if (link.client.writableLength > QUEUE_HIGH) continue;
      sent = true;
      const head = link.queue[0];
      const piece = head.subarray(0, Math.min(head.length, SLICE, Math.floor(tokens)));
      if (piece.length === head.length) link.queue.shift();
      else link.queue[0] = head.subarray(piece.length);
      link.queued -= piece.length;
      tokens -= piece.length;
      later(() => link.client.destroyed || link.client.write(piece));
      if (link.queued < QUEUE_HIGH / 4) link.target.resume();
      if (link.queue.length === 0) {
        waiting.delete(link);
        if (link.targetEnded) later(() => link.client.end());
      }
      if (tokens < 1) break;
    }
  }
  if (waiting.size === 0) {
    clearInterval(ticking);
    ticking = undefined;
  }
}

function enqueue(link, chunk) {
  link.queue.push(chunk);
  link.queued += chunk.length;
  waiting.add(link);
  if (!ticking) {
    last = performance.now();
    ticking = setInterval(pump, 1);
  }
}

net
  .createServer((client) => {
    client.pause();
    const link = { client, target: null, queue: [], queued: 0, targetEnded: false };
    setTimeout(() => {
      const target = net.connect(targetPort, '127.0.0.1', () => client.resume());
      link.target = target;
      target.on('data', (chunk) => {
        enqueue(link, chunk);
        if (link.queued > QUEUE_HIGH) target.pause();
      });
      target.on('end', () => {
        link.targetEnded = true;
        if (link.queue.length === 0) later(() => client.end());
      });
      target.on('error', () => client.destroy());
      client.on('data', (chunk) => later(() => target.destroyed || target.write(chunk)));
      client.on('end', () => later(() => target.end()));
      client.on('error', () => target.destroy());
      client.on('close', () => {
        waiting.delete(link);
        target.destroy();
      });
    }, 2 * halfRtt);
  })
  .listen(listenPort, '127.0.0.1', () => console.log(`link-proxy: 127.0.0.1:${listenPort} -> :${targetPort}, ${values.mibps} MiB/s, rtt ${values['rtt-ms']} ms`));
