// Starts `granary serve` on stories15M on a free loopback port, then completes and streams a chat with the
// official `openai` npm client and checks the answers. Exits non-zero on any failure.
// GRANARY_STORIES15M: the model folder; GRANARY_DLL: the built granary.dll (default: the Release build).
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const model = process.env.GRANARY_STORIES15M || path.join(repo, 'models/stories15M');
const dll = process.env.GRANARY_DLL || path.join(repo, 'silo/Granary.Silo/bin/Release/net10.0/granary.dll');

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
});
const server = spawn('dotnet', [dll, 'serve', '--model', model, '--host', '127.0.0.1', '--port', String(port), '--api-key', 'node-test'], { stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
server.stderr.on('data', (d) => { log += d; });
const exited = new Promise((resolve) => server.on('exit', resolve));

async function main() {
  const baseURL = `http://127.0.0.1:${port}/v1`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`granary serve exited with ${server.exitCode}`);
    try { if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break; } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error('granary serve did not become healthy in 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  const client = new OpenAI({ baseURL, apiKey: 'node-test' });
  const messages = [{ role: 'user', content: 'Once upon a time' }];

  const models = await client.models.list();
  assert.equal(models.data[0].id, 'stories15M');
  assert.equal((await client.models.retrieve('stories15M')).id, 'stories15M');
  await assert.rejects(client.models.retrieve('gpt-4'), (e) => e.status === 404);

  const completion = await client.chat.completions.create({ model: 'stories15M', messages, max_tokens: 16, temperature: 0 });
  const text = completion.choices[0].message.content;
  assert.equal(completion.object, 'chat.completion');
  assert.equal(completion.choices[0].message.role, 'assistant');
  assert.ok(text.trim().length > 0, 'empty answer');
  assert.ok(['stop', 'length'].includes(completion.choices[0].finish_reason));
  assert.ok(completion.usage.completion_tokens >= 1 && completion.usage.completion_tokens <= 16);

  const stream = await client.chat.completions.create({ model: 'stories15M', messages, max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true } });
  let streamed = '', chunks = 0, usage = null, finish = null;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) { streamed += choice.delta.content ?? ''; finish ??= choice.finish_reason; }
  }
  assert.ok(chunks > 3, `only ${chunks} chunks`);
  assert.equal(streamed, text);
  assert.equal(finish, completion.choices[0].finish_reason);
  assert.equal(usage.completion_tokens, completion.usage.completion_tokens);

  await assert.rejects(client.chat.completions.create({ model: 'stories15M', messages: [], max_tokens: 4 }), (e) => e.status === 400);
  const unauthorized = new OpenAI({ baseURL, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(unauthorized.models.list(), (e) => e.status === 401);
  console.log(`openai npm client: chat completed and streamed (${chunks} chunks) against granary serve`);
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(`openai npm test failed: ${e.stack ?? e}`);
  console.error(log.split('\n').slice(-20).join('\n'));
} finally {
  server.kill('SIGTERM');
  const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
process.exit(failed ? 1 : 0);
