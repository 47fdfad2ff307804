// The admin console in headless Chromium (Debian's /usr/bin/chromium driven
// by playwright-core), against a running server seeded by
// scripts/test-browser: OPSBRIDGE_URL and ADMIN_TOKEN come from the
// environment. On failure a full-page screenshot goes to tests/artifacts/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = process.env.OPSBRIDGE_URL;
const TOKEN = process.env.ADMIN_TOKEN;
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let browser;

before(async () => {
  assert.ok(BASE && TOKEN, 'set OPSBRIDGE_URL and ADMIN_TOKEN (scripts/test-browser does)');
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ARGS });
});

after(async () => {
  await browser?.close();
});

/** The admin API from the test itself (to check what the page did). */
async function api(path, init = {}) {
  const res = await fetch(BASE + path, {
    ...init,
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json', ...(init.headers || {}) },
  });
  return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

/** Runs `fn` on a fresh page; page errors and CSP violations fail the test. */
async function withPage(name, viewport, fn) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[149]/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  try {
    await fn(page, context);
    assert.deepEqual(problems, [], 'no script errors or CSP violations');
  } catch (error) {
    await page.screenshot({ path: `${ARTIFACTS}${name}-failure.png`, fullPage: true }).catch(() => {});
    throw error;
  } finally {
    await context.close();
  }
}

async function signIn(page, token = TOKEN) {
  await page.goto(`${BASE}/api/admin`);
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function section(page, name) {
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name }).click();
}

test('signs in with the token kept in this tab only, and refuses a wrong one', async () => {
  await withPage('sign-in', DESKTOP, async (page, context) => {
    await signIn(page, 'not-the-token');
    await page.getByText('That token was refused.').waitFor();
    await signIn(page);
    await page.locator('#card-health').getByText('ok', { exact: true }).first().waitFor();
    assert.ok(!page.url().includes(TOKEN), 'the token is never in the URL');
    assert.deepEqual(await context.cookies(), [], 'no cookie');
    assert.equal(await page.evaluate(() => sessionStorage.length), 1);
    await page.reload();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.locator('#card-outbox .chips').waitFor();
    await page.screenshot({ path: `${ARTIFACTS}console-desktop.png`, fullPage: true });
  });
});

test('shows the open incident the watchdog opened, with its summary and no email', async () => {
  const open = (await api('/api/admin/incidents?status=open')).body.incidents;
  assert.equal(open.length, 1, `seeded incidents: ${JSON.stringify(open)}`);
  await withPage('incidents', DESKTOP, async (page) => {
    await signIn(page);
    const card = page.locator('#card-incidents');
    const list = card.getByRole('list', { name: 'Open incidents' });
    await list.getByText('integration_failing · hubspot', { exact: true }).waitFor();
    await list.getByText('failed requests in the last 10 min', { exact: false }).waitFor();
    const text = await card.innerText();
    assert.match(text, /invalid_payload, HTTP 400/);
    assert.doesNotMatch(text, /@/, 'no email in an incident');
  });
});

test('finds a member and shows one timeline, with hostile text as text', async () => {
  await withPage('member', DESKTOP, async (page) => {
    await signIn(page);
    await section(page, 'Members');
    await page.getByLabel('Email or id').fill('JANE@example.com');
    await page.getByLabel('Email or id').press('Enter');
    const member = page.getByRole('article', { name: 'Member' });
    await member.getByText('cus_BrowserJane01').waitFor();
    await member.getByText('active', { exact: true }).waitFor();
    const timeline = page.getByRole('list', { name: 'Timeline, newest first' });
    await timeline.getByText('checkout.session.completed', { exact: true }).first().waitFor();
    await timeline.locator('li.source-job', { hasText: 'crm_upsert' }).first().waitFor();
    await timeline.locator('li.source-ticket .quote').getByText('<script>window.__xss = 1</script>', { exact: false }).waitFor();
    assert.equal(await page.evaluate(() => window.__xss), undefined, 'no customer script ran');
    assert.equal(await page.locator('img[src="x"]').count(), 0, 'no customer markup was built');
    assert.doesNotMatch(await page.locator('#member-result').innerText(), /\bnull\b|undefined/);
    await page.screenshot({ path: `${ARTIFACTS}console-desktop-member.png`, fullPage: true });
    await page.getByLabel('Email or id').fill('nobody@example.com');
    await page.getByRole('button', { name: 'Find' }).click();
    await page.getByText('No member matches that.').waitFor();
  });
});

test('retries a dead job and watches it leave the dead list; bulk retry counts first', async () => {
  await withPage('dead-letters', DESKTOP, async (page) => {
    await signIn(page);
    await section(page, 'Dead letters');
    const items = page.getByRole('list', { name: 'Dead jobs' }).locator('li.item');
    await items.first().waitFor();
    const before = await items.count();
    assert.ok(before >= 2, `seeded dead jobs: ${before}`);
    const id = await items.first().getAttribute('data-job-id');
    await items.first().getByRole('button', { name: 'Retry' }).click();
    await page.locator(`li[data-job-id="${id}"]`).waitFor({ state: 'detached' });
    const job = await api(`/api/admin/jobs/${id}`);
    assert.notEqual(job.body.state, 'dead');

    const left = (await api('/api/admin/jobs?state=dead&kind=crm_upsert')).body.jobs.length;
    await page.getByLabel('Kind').selectOption('crm_upsert');
    await page.getByRole('button', { name: 'Apply filter' }).click();
    await page.getByRole('button', { name: 'Retry all matching…' }).click();
    const confirm = page.getByRole('alertdialog');
    await confirm.getByText(`${left} dead job(s) match (kind crm_upsert)`).waitFor();
    await confirm.getByRole('button', { name: `Retry ${left} job(s)` }).click();
    await page.getByText('No dead job matches this filter.').waitFor();
  });
});

test('approves a draft, reading the customer text beside it', async (t) => {
  const probe = await api('/api/admin/drafts?status=pending_approval');
  if (probe.status === 404) {
    t.skip('the drafts API answers 404 on this deployment: approval step skipped');
    console.log('# skipped: /api/admin/drafts is not deployed (404)');
    return;
  }
  await withPage('drafts', DESKTOP, async (page) => {
    await signIn(page);
    await section(page, 'Drafts');
    const item = page.locator('li.draft').first();
    await item.waitFor();
    const id = await item.getAttribute('data-draft-id');
    await item.locator('.quote').getByText('<script>window.__xss = 1</script>', { exact: false }).waitFor();
    await item.getByText('We will refund the second payment today.').waitFor();
    await page.screenshot({ path: `${ARTIFACTS}console-desktop-drafts.png`, fullPage: true });
    await item.getByRole('button', { name: 'Edit' }).click();
    await item.getByLabel('Edit the draft').fill('Hi Jane, we are checking the double charge and will write back today.');
    await item.getByRole('button', { name: 'Save edit' }).click();
    await item.getByText('we are checking the double charge').waitFor();
    await item.getByRole('button', { name: 'Approve' }).click();
    await page.locator(`li[data-draft-id="${id}"]`).waitFor({ state: 'detached' });
    const after = await api(`/api/admin/drafts/${id}`);
    assert.equal(after.body.draft.status, 'approved');
    assert.equal(await page.evaluate(() => window.__xss), undefined);
  });
});

/** True when nothing is wider than the viewport (no sideways scrolling). */
async function fits(page) {
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
}

test('works at 390 px with the keyboard: every section fits, a switch pauses and resumes', async () => {
  await withPage('phone', PHONE, async (page) => {
    await page.goto(`${BASE}/api/admin`);
    await page.getByLabel('Admin token').waitFor();
    const focused = await page.evaluate(() => document.activeElement?.id);
    assert.equal(focused, 'token', 'the token field has the focus');
    await page.keyboard.type(TOKEN);
    await page.keyboard.press('Enter');
    await page.locator('#card-outbox .chips').waitFor();
    await page.locator('#card-tickets .item').first().waitFor();
    await page.locator('#card-incidents li').first().waitFor();
    assert.ok(await fits(page), 'overview fits 390 px');
    await page.screenshot({ path: `${ARTIFACTS}console-390.png`, fullPage: true });
    await page.getByRole('button', { name: 'Dead letters' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Dead letters' }).waitFor();
    for (const name of ['Members', 'Dead letters', 'Drafts']) {
      await section(page, name);
      assert.ok(await fits(page), `${name} fits 390 px`);
    }
    await section(page, 'Members');
    await page.getByLabel('Email or id').fill('cus_BrowserMax001');
    await page.getByLabel('Email or id').press('Enter');
    await page.getByRole('list', { name: 'Timeline, newest first' }).waitFor();
    assert.ok(await fits(page), 'a timeline fits 390 px');
    await page.screenshot({ path: `${ARTIFACTS}console-390-member.png`, fullPage: true });

    await section(page, 'Switches');
    const slack = page.locator('li[data-flag="slack"]');
    await slack.getByLabel('Note').fill('browser test');
    await slack.getByRole('button', { name: 'Pause slack' }).click();
    await slack.getByText(/Paused by admin:[0-9a-f]+ .*browser test/).waitFor();
    assert.ok(await fits(page), 'switches fit 390 px');
    await slack.getByRole('button', { name: 'Resume slack' }).click();
    await slack.getByText(/Resumed by admin:/).waitFor();
  });
});
