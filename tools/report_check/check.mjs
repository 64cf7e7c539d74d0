// Opens a backtest's report.html in headless Chromium (Debian's /usr/bin/chromium, driven
// by playwright-core; no browser is downloaded) and checks what a reader sees: the three
// charts drawn at a readable size with dated, non-overlapping axis labels, every fill
// marked, the returns table, money in cents that agrees with report.json, no raw field
// names, no scripts and no network. Keeps a full-page screenshot.
//
// usage: node tools/report_check/check.mjs REPORT_DIR SCREENSHOT.png
// env:   NODE_DIR (where prereqs installed playwright-core), CHROMIUM (default /usr/bin/chromium)
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [dir, screenshot] = process.argv.slice(2);
if (!dir || !screenshot) {
  console.error("usage: check.mjs REPORT_DIR SCREENSHOT.png");
  process.exit(2);
}
const nodeDir = process.env.NODE_DIR || join(homedir(), ".cache", "tradewind-node");
const { chromium } = (await import(pathToFileURL(join(nodeDir, "node_modules", "playwright-core", "index.js")).href)).default;
const report = JSON.parse(readFileSync(join(dir, "report.json"), "utf8"));
const page_url = pathToFileURL(resolve(dir, "report.html")).href;

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
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const offline = [];
  page.on("request", (r) => {
    if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) offline.push(r.url());
  });
  await page.goto(page_url);

  check("title names the bot", (await page.title()).includes(report.bot), await page.title());
  check("heading names the bot", (await page.locator("h1").innerText()).includes(report.bot));
  check("no scripts", (await page.locator("script").count()) === 0);

  const dateLike = /^(\d{4}-\d{2}(-\d{2})?|\d{2}-\d{2} \d{2}:\d{2})$/;
  const overlaps = (boxes) =>
    boxes.some((a, i) => boxes.slice(i + 1).some((b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height));
  for (const name of ["Price and trades", "Equity against buy and hold", "Drawdown"]) {
    const svg = page.locator(`svg[data-chart="${name}"]`);
    const box = (await svg.count()) === 1 ? await svg.boundingBox() : null;
    check(`${name}: chart drawn at a readable size`, box && box.width >= 600 && box.height >= 120, JSON.stringify(box));
    if (!box) continue;
    const xs = await svg.locator("text.xtick").evaluateAll((els) => els.map((e) => ({ text: e.textContent, box: e.getBoundingClientRect().toJSON() })));
    const ys = await svg.locator("text.ytick").evaluateAll((els) => els.map((e) => ({ text: e.textContent, box: e.getBoundingClientRect().toJSON() })));
    check(`${name}: at least four dated time labels`, xs.length >= 4 && xs.every((x) => dateLike.test(x.text)), xs.map((x) => x.text).join(" | "));
    const sorted = xs.map((x) => x.text);
    check(`${name}: time labels in order`, sorted.every((t, i) => i === 0 || sorted[i - 1] < t));
    check(`${name}: at least three value labels`, ys.length >= 3, ys.map((y) => y.text).join(" | "));
    const labels = [...xs, ...ys];
    check(`${name}: labels at least 10 px tall`, labels.every((l) => l.box.height >= 10), labels.map((l) => l.box.height.toFixed(1)).join(","));
    check(`${name}: labels do not overlap`, !overlaps(labels.map((l) => l.box)));
    check(`${name}: labels inside the chart`, labels.every((l) => l.box.x >= box.x - 1 && l.box.x + l.box.width <= box.x + box.width + 1));
  }

  // Every fill is on the price chart: one triangle per fill.
  const marks = await page.locator('svg[data-chart="Price and trades"] path.buy, svg[data-chart="Price and trades"] path.sell').evaluateAll((els) =>
    els.map((e) => ((e.getAttribute("d") || "").match(/M/g) || []).length),
  );
  const drawn = marks.reduce((a, b) => a + b, 0);
  check("every fill marked on the price chart", drawn === report.fills && report.fills > 0, `${drawn} marks, ${report.fills} fills`);
  const legend = await page.locator('svg[data-chart="Equity against buy and hold"] text.legend').evaluateAll((els) => els.map((e) => e.textContent));
  check("equity chart has a legend for both lines", legend.includes("strategy") && legend.includes("buy and hold"), legend.join(","));

  const returns = page.locator("table.returns");
  const cells = (await returns.count()) === 1 ? await returns.locator("tbody td").allInnerTexts() : [];
  const filled = cells.filter((c) => c.trim() !== "");
  check("returns table shows signed percentages", filled.length > 0 && filled.every((c) => /^[+-]\d+\.\d{2} %$/.test(c)), filled.slice(0, 5).join(" | "));

  const summary = Object.fromEntries(
    await page.locator("table.summary tr").evaluateAll((rows) => rows.map((r) => [r.querySelector("th").innerText, r.querySelector("td").innerText])),
  );
  const money = /^-?\d{1,3}(,\d{3})*\.\d{2} [A-Z]+$/;
  const moneyRows = ["Initial equity", "Final equity", "Realized PnL", "Unrealized PnL", "Venue fees paid"];
  check("money rounded to cents", moneyRows.every((k) => money.test(summary[k] || "")), moneyRows.map((k) => summary[k]).join(" | "));
  const cents = (s) => Math.round(Number(s) * 100) / 100;
  const shown = Number((summary["Final equity"] || "").replace(/[ A-Z,]/g, ""));
  check("final equity agrees with report.json", Math.abs(shown - cents(report.finalEquity)) < 0.006, `${summary["Final equity"]} vs ${report.finalEquity}`);

  const text = await page.locator("body").innerText();
  const raw = Object.keys(report.statistics).filter((k) => k.includes("_") && text.includes(k));
  check("no raw field names on the page", raw.length === 0, raw.join(","));
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check("no horizontal scrolling", width <= 1100, `${width}px`);

  await page.screenshot({ path: screenshot, fullPage: true });
  check("no network requests", offline.length === 0, offline.join(","));
} finally {
  await browser.close();
}
console.log(`report check: ${passed} passed, ${failed} failed (screenshot ${screenshot})`);
process.exit(failed ? 1 : 0);
