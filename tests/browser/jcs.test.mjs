// The console's RFC 8785 canonical JSON (web/assets/app/core/jcs.js), run in the browser that
// signs with it, over every vector of the shared jcs-vectors: input/X.json must canonicalise to
// exactly the bytes of output/X.json, or every signature the console makes would be refused.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Ledger, launch, openPage, sharedData } from './lib/harness.mjs';

let ledger;
let browser;

before(async () => {
  ledger = await Ledger.start();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await ledger?.stop();
});

test('jcs.js in Chromium canonicalises every jcs-vectors input to exactly its output', async () => {
  const dir = path.join(sharedData(), 'jcs-vectors');
  const names = fs.readdirSync(path.join(dir, 'input')).filter((n) => n.endsWith('.json')).sort();
  assert.ok(names.length > 0, `no vectors in ${dir}/input`);
  const vectors = names.map((name) => ({
    name,
    input: fs.readFileSync(path.join(dir, 'input', name), 'utf8'),
    want: fs.readFileSync(path.join(dir, 'output', name)),
  }));

  const page = await openPage(browser);
  await page.goto(ledger.url + '/');
  const got = await page.evaluate(async (inputs) => {
    const { canonicalBytes } = await import('/assets/app/core/jcs.js');
    return inputs.map((text) => Array.from(canonicalBytes(JSON.parse(text))));
  }, vectors.map((v) => v.input));

  for (const [i, v] of vectors.entries()) {
    const bytes = Buffer.from(got[i]);
    assert.ok(bytes.equals(v.want),
      `${v.name}:\n got  ${bytes.toString('utf8')}\n want ${v.want.toString('utf8')}`);
  }
  await page.guard.check();
  await page.context().close();
});
