// Drives the dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core as tools/report_check does) against a served, seeded platform: signs in
// through the OIDC issuer (authorization code with PKCE), opens every page and checks
// what a reader sees — the accounts, the bots with their equity, a bot's charts and a
// fill, the commissions page, the referral tree, another account not found, markup in
// names shown as text. Keeps a full-page screenshot of each page.
//
// usage: node tools/dashboard_check/check.mjs BASE_URL SCREENSHOT_DIR
//   BASE_URL: the served platform, by a `localhost` name (a Secure cookie over plain
//   HTTP is kept only for localhost)
// env:   NODE_DIR (where prereqs installed playwright-core), CHROMIUM (default /usr/bin/chromium)
import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [base, shots] = process.argv.slice(2);
if (!base || !shots) {
  console.error("usage: check.mjs BASE_URL SCREENSHOT_DIR");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });
const nodeDir = process.env.NODE_DIR || join(homedir(), ".cache", "tradewind-node");
const { chromium } = (await import(pathToFileURL(join(nodeDir, "node_modules", "playwright-core", "index.js")).href)).default;

let passed = 0;
let failed = 0;
function check(name, ok, detail = "") {
  if (ok) {
    passed++;
    console.log(`ok - ${name}`);
  } else {
    failed++;
    console.log(`not ok - ${name}${detail ? `: ${detail}` : ""}`);
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-background-networking", "--headless"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const dialogs = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    d.dismiss();
  });
  const shot = async (name) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  await page.goto(`${base}/ui/accounts/acme`);
  check("not signed in: the sign-in page", (await page.locator("h1").innerText()) === "Sign in", page.url());
  await shot("sign-in");
  await page.locator("a.oidc").click();
  await page.waitForURL(`${base}/ui/`);
  check("signed in through the issuer", page.url() === `${base}/ui/`, page.url());
  const accounts = await page.locator('table[aria-label="Accounts"] tbody tr td:first-child').allInnerTexts();
  check("the accounts are the user's", accounts.includes("acme") && accounts.includes("evil") && !accounts.includes("globex"), accounts.join(","));
  const names = await page.locator('table[aria-label="Accounts"] tbody tr td:nth-child(2)').allInnerTexts();
  check("markup in a name is text", names.includes("<script>alert('acct')</script>") && dialogs.length === 0, names.join(" | "));
  await shot("accounts");

  await page.locator('a[href="/ui/accounts/acme"]').click();
  const bots = Object.fromEntries(
    await page.locator('table[aria-label="Bots"] tbody tr').evaluateAll((rows) => rows.map((r) => [r.cells[0].innerText, r.cells[3].innerText])),
  );
  check("the bot list names the bots", "base" in bots && "trend" in bots, JSON.stringify(bots));
  check("the bot list shows equity", /^1300(\.0+)? USDT$/.test(bots.base || ""), bots.base);
  await shot("bots");

  await page.locator('a[href="/ui/accounts/acme/bots/base"]').click();
  for (const name of ["Equity", "Drawdown"]) {
    const box = await page.locator(`svg[data-chart="${name}"]`).boundingBox();
    check(`${name} chart drawn at a readable size`, box && box.width >= 600 && box.height >= 100, JSON.stringify(box));
  }
  const fills = await page.locator('table[aria-label="Fills"] tbody tr').allInnerTexts();
  check("recent fills listed", fills.length === 5 && fills[0].includes("87000"), fills.slice(0, 2).join(" | "));
  const cards = await page.locator(".card").allInnerTexts();
  check("equity and drawdown figures", cards.some((c) => c.includes("Equity") && c.includes("1300")) && cards.some((c) => c.includes("Max drawdown") && c.includes("300.00 USDT")), cards.join(" | "));
  await shot("bot");

  await page.goto(`${base}/ui/accounts/acme/commissions`);
  const totals = await page.locator('table[aria-label="Statements"] td.total').allInnerTexts();
  check("a statement total", totals.length > 0 && totals.every((t) => /^\d+(\.\d+)? [A-Z]+$/.test(t)), totals.join(" | "));
  await shot("commissions");

  await page.goto(`${base}/ui/accounts/acme/referrals`);
  const tree = await page.locator("ul.tree").first().innerText();
  check("the referral tree", tree.includes("acme") && tree.includes("evil"), tree);
  await shot("referrals");

  const other = await page.goto(`${base}/ui/accounts/globex`);
  check("another account is not found", other.status() === 404, String(other.status()));
  await shot("not-found");

  await page.goto(`${base}/ui/`);
  await page.locator("header form button").click();
  await page.waitForURL(`${base}/ui/login`);
  check("signed out", page.url() === `${base}/ui/login`, page.url());
  const again = await page.goto(`${base}/ui/accounts/acme`);
  check("signed out stays out", page.url() === `${base}/ui/login` && again.status() === 200, page.url());
} finally {
  await browser.close();
}
console.log(`dashboard check: ${passed} passed, ${failed} failed (screenshots in ${shots})`);
process.exit(failed ? 1 : 0);
