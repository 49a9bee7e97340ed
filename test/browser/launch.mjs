// Shared by the browser tests: start `fourbit serve` on a free port and Debian's Chromium
// through playwright-core, with the flags that work on a closed network.
import { spawn } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export async function startServer() {
  const proc = spawn(join(root, 'bin', 'fourbit'), ['serve', '--dir', join(root, 'www'), '--addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let buf = '';
    proc.stdout.on('data', (d) => {
      buf += d;
      const m = buf.match(/http:\/\/[^\s]+\//);
      if (m) resolve(m[0]);
    });
    proc.on('exit', (code) => reject(new Error('fourbit serve exited with ' + code)));
    setTimeout(() => reject(new Error('fourbit serve did not start')), 20000);
  });
  return { url, stop: () => proc.kill() };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}
