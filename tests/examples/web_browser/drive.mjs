// Drives examples/web in Debian's headless Chromium (puppeteer-core, pinned in package.json): the page signs
// in anonymously and waits for its credits; round "file" picks an audio file, round "record" records from
// Chromium's fake microphone (it plays a WAV file) and stops. Each round waits for the transcription to end
// and the charged balance to arrive, then takes a full-page screenshot.
//
// Last, a file of a type the audio bucket refuses is picked: the page must say why and upload nothing.
//
// node drive.mjs CHROMIUM URL OUT_DIR AUDIO_FILE MIC_WAV RECORD_SECONDS REFUSED_FILE
// prints one JSON object: the page as it was after each round, and what its console said.

import puppeteer from "puppeteer-core";

const [chromium, url, outDir, audioFile, micWav, recordSeconds, refusedFile] = process.argv.slice(2);
const WAIT_MS = 150000;

const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: [
    "--no-sandbox", // root in a container: Chromium's own sandbox needs user namespaces
    "--use-fake-ui-for-media-stream", // the microphone prompt answered yes
    "--use-fake-device-for-media-stream",
    `--use-file-for-fake-audio-capture=${micWav}%noloop`,
  ],
  defaultViewport: { width: 960, height: 900 },
});
const consoleLines = [];
const result = { rounds: [], console: consoleLines };
try {
  const page = await browser.newPage();
  page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector("#balance[data-balance]", { timeout: 60000 });
  result.start = await snapshot(page);

  await round(page, "file", async () => {
    const input = await page.waitForSelector("#file:not([disabled])", { timeout: 30000 });
    await input.uploadFile(audioFile);
  });
  await round(page, "record", async () => {
    await (await page.waitForSelector("#record:not([disabled])", { timeout: 30000 })).click();
    await page.waitForSelector("#stop:not([disabled])", { timeout: 10000 });
    await new Promise((resolve) => setTimeout(resolve, Number(recordSeconds) * 1000));
    await page.click("#stop");
  });
  const input = await page.waitForSelector("#file:not([disabled])", { timeout: 30000 });
  await input.uploadFile(refusedFile);
  await page.waitForFunction(() => !document.getElementById("error").hidden, { timeout: 30000 });
  await page.waitForSelector("#file:not([disabled])", { timeout: 10000 });
  result.refused = await snapshot(page);
  await page.screenshot({ path: `${outDir}/refused.png`, fullPage: true });
} catch (error) {
  result.error = String(error && error.stack ? error.stack : error);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(result) + "\n");

async function round(page, name, act) {
  const before = await snapshot(page);
  await act();
  // a new upload resets the status; then it ends (completed or failed) and the charge reaches the balance
  await page.waitForFunction(
    (logs) => document.querySelectorAll("#log li[data-kind=upload]").length > logs,
    { timeout: WAIT_MS },
    before.uploads,
  );
  await page.waitForFunction(
    () => ["completed", "failed"].includes(document.getElementById("status").dataset.status),
    { timeout: WAIT_MS },
  );
  const ended = await snapshot(page);
  if (ended.status === "completed") {
    await page.waitForFunction(
      (balance) => Number(document.getElementById("balance").dataset.balance) < balance,
      { timeout: 30000 },
      before.balance,
    );
  }
  const shot = `${outDir}/${name}.png`;
  await page.screenshot({ path: shot, fullPage: true });
  result.rounds.push({ name, before, after: await snapshot(page), screenshot: shot });
}

function snapshot(page) {
  return page.evaluate(() => {
    const $ = (id) => document.getElementById(id);
    return {
      env: $("env-banner").dataset.env,
      banner: $("env-banner").textContent.replace(/\s+/g, " ").trim(),
      userId: $("user-id").textContent,
      balance: Number($("balance").dataset.balance),
      status: $("status").dataset.status,
      fileId: $("status").dataset.fileId || null,
      transcript: $("transcript").textContent,
      charged: Number($("charged").dataset.credits || 0),
      chargedText: $("charged").textContent,
      error: $("error").hidden ? null : $("error").textContent,
      uploads: document.querySelectorAll("#log li[data-kind=upload]").length,
      log: [...document.querySelectorAll("#log li")].reverse().map((li) => ({ ...li.dataset, text: li.textContent })),
    };
  });
}
