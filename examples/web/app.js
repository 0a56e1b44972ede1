// QuixoticWhisper's flow in a browser, through the official Appwrite web SDK (its IIFE build, window.Appwrite):
// sign in anonymously, record or pick audio, upload it readable by this user alone, and watch the
// transcription row and the credit account change over Realtime. The `transcribe` function runs on the
// upload's event (buckets.audio.files.*.create) and writes the row whose id is the file's id; `grant-credits`
// opens the credit account (row id = user id) when the user is created. The page holds no key: only an
// endpoint and a project id, from config.json (or ?env=, ?endpoint=, ?project= in the address).
"use strict";

if (!window.Appwrite) {
  document.getElementById("env-target").textContent =
    "the Appwrite SDK did not load: run `npm ci` in examples/web (it fills node_modules/appwrite)";
  throw new Error("window.Appwrite is missing: run `npm ci` in examples/web");
}
const { Account, Channel, Client, ID, Permission, Realtime, Role, Storage, TablesDB } = window.Appwrite;

const DATABASE = "quixotic_app";
const TRANSCRIPTIONS = "transcriptions";
const ACCOUNTS = "credit_accounts";
const BUCKET = "audio";
const FINAL = new Set(["completed", "failed"]);
const BALANCE_POLL_MS = 1000; // until the first balance is known (the account is opened by a function)
const BALANCE_POLL_LIMIT = 60;

const $ = (id) => document.getElementById(id);
const state = { userId: null, fileId: null, status: null, balance: null, tables: null, storage: null };

/** The environment to talk to: config.json's entry for ?env= (or its default), ?endpoint= / ?project= on top. */
async function target() {
  const params = new URLSearchParams(location.search);
  const answer = await fetch("config.json", { cache: "no-store" });
  if (!answer.ok) throw new Error(`config.json could not be read (HTTP ${answer.status})`);
  const config = await answer.json();
  const name = params.get("env") || config.default;
  const env = config.environments[name];
  if (!env) {
    const known = Object.keys(config.environments).join(", ");
    throw new Error(`config.json has no environment "${name}"; use ?env= with one of: ${known}`);
  }
  return { name, endpoint: params.get("endpoint") || env.endpoint, projectId: params.get("project") || env.projectId };
}

function banner(env) {
  const header = $("env-banner");
  header.dataset.env = env.name;
  $("env-name").textContent = env.name.toUpperCase();
  $("env-target").textContent = `${env.endpoint} · project ${env.projectId}`;
  document.title = `QuixoticWhisper (${env.name})`;
}

/** One line of "What arrived": where it came from (realtime, http, page) and what it said. */
function log(source, text, extra = {}) {
  const item = document.createElement("li");
  item.dataset.source = source;
  for (const [key, value] of Object.entries(extra)) item.dataset[key] = String(value);
  const time = new Date().toLocaleTimeString();
  item.innerHTML = `<span class="when"></span> <span class="source"></span> <span class="what"></span>`;
  item.querySelector(".when").textContent = time;
  item.querySelector(".source").textContent = source;
  item.querySelector(".what").textContent = text;
  $("log").prepend(item);
}

function fail(where, error) {
  const box = $("error");
  box.hidden = false;
  box.textContent = `${where}: ${error && error.message ? error.message : error}`;
  log("page", box.textContent, { kind: "error" });
}

function credits(value) {
  const n = Number(value);
  return `${Number.isInteger(n) ? n : n.toFixed(2)} credit${n === 1 ? "" : "s"}`;
}

// --- what the server tells us -----------------------------------------------------------------------

function showBalance(row, source) {
  if (!row || row.userId !== state.userId) return;
  state.balance = Number(row.balance);
  const shown = $("balance");
  shown.textContent = credits(state.balance);
  shown.dataset.balance = String(state.balance);
  $("balance-note").textContent = `(via ${source})`;
  log(source, `balance ${credits(state.balance)}`, { kind: "balance", balance: state.balance });
  ready();
}

function showTranscription(row, source, event = "") {
  if (!row || row.$id !== state.fileId) return; // an older upload's row
  state.status = row.status;
  const status = $("status");
  status.textContent = row.status;
  status.dataset.status = row.status;
  status.dataset.fileId = row.$id;
  $("transcript").textContent = row.text || (row.status === "completed" ? "(no speech)" : "");
  $("duration").textContent = row.durationSeconds != null ? `${Number(row.durationSeconds).toFixed(1)} s` : "–";
  const charged = $("charged");
  charged.textContent = row.creditsCharged ? credits(row.creditsCharged) : "–";
  charged.dataset.credits = String(row.creditsCharged || 0);
  $("model").textContent = row.model || "–";
  if (row.status === "failed") fail("transcription failed", `${row.errorCode || "error"}: ${row.error || "no detail"}`);
  const action = event ? ` (row ${event.split(".").pop()})` : ""; // the event's last part: create, update
  log(source, `transcription ${row.status}${action}`, { kind: "transcription", status: row.status });
  if (FINAL.has(row.status)) ready();
}

// --- uploading ----------------------------------------------------------------------------------

function ready() {
  const idle = state.balance !== null && (state.fileId === null || FINAL.has(state.status));
  $("record").disabled = !idle;
  $("file").disabled = !idle;
  if (idle) $("upload-status").textContent = "Record something or pick an audio file.";
}

async function upload(file) {
  $("record").disabled = $("stop").disabled = $("file").disabled = true;
  $("error").hidden = true;
  const previous = { fileId: state.fileId, status: state.status }; // shown until this upload is stored
  state.fileId = ID.unique(); // the row's events may come before the upload's answer: they are this file's
  state.status = null;
  $("upload-status").textContent = `Uploading ${file.name} (${(file.size / 1000).toFixed(1)} kB)…`;
  const mine = Role.user(state.userId);
  try {
    await state.storage.createFile({
      bucketId: BUCKET,
      fileId: state.fileId,
      file,
      permissions: [Permission.read(mine), Permission.delete(mine)], // this user alone; the bucket lets users create
    });
  } catch (error) {
    Object.assign(state, previous);
    fail(`upload of ${file.name}`, error);
    ready();
    return;
  }
  if (state.status === null) {
    for (const id of ["duration", "charged", "model"]) $(id).textContent = "–";
    $("transcript").textContent = "";
    $("charged").dataset.credits = "0";
    $("status").textContent = "uploaded, waiting for the transcribe function";
    $("status").dataset.status = "uploaded";
  }
  $("status").dataset.fileId = state.fileId;
  $("upload-status").textContent = `Uploaded ${file.name}; the transcribe function runs on the upload event.`;
  log("http", `uploaded ${file.name} as ${state.fileId}`, { kind: "upload" });
  try {
    // The row may already be there (it is created by the function): read it once; the rest comes over Realtime.
    const row = await state.tables.getRow({ databaseId: DATABASE, tableId: TRANSCRIPTIONS, rowId: state.fileId });
    if (state.status === null) showTranscription(row, "http");
  } catch (error) {
    if (error.code !== 404) fail("reading the transcription", error);
  }
}

function recorder() {
  let media = null;
  let chunks = [];
  $("record").addEventListener("click", async () => {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const types = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm"];
      const mimeType = types.find((t) => MediaRecorder.isTypeSupported(t));
      media = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
      chunks = [];
      media.addEventListener("dataavailable", (e) => e.data.size && chunks.push(e.data));
      media.addEventListener("stop", () => {
        stream.getTracks().forEach((t) => t.stop());
        const type = media.mimeType || "audio/webm";
        const ext = type.includes("ogg") ? "ogg" : "webm";
        upload(new File(chunks, `recording-${Date.now()}.${ext}`, { type }));
      });
      media.start(250);
      $("record").disabled = $("file").disabled = true;
      $("stop").disabled = false;
      $("upload-status").textContent = "Recording… press Stop to upload.";
      log("page", `recording (${media.mimeType})`, { kind: "recording" });
    } catch (error) {
      fail("the microphone", error);
    }
  });
  $("stop").addEventListener("click", () => {
    $("stop").disabled = true;
    if (media && media.state !== "inactive") media.stop();
  });
  $("file").addEventListener("change", (e) => {
    const file = e.target.files && e.target.files[0];
    if (file) upload(file);
    e.target.value = "";
  });
}

// --- start ----------------------------------------------------------------------------------------

async function signIn(account) {
  try {
    return await account.get(); // a session kept from an earlier visit (the SDK's cookie or cookieFallback)
  } catch (error) {
    if (error.code !== 401) throw error;
  }
  await account.createAnonymousSession();
  return account.get();
}

async function waitForBalance() {
  for (let i = 0; i < BALANCE_POLL_LIMIT && state.balance === null; i++) {
    try {
      const row = await state.tables.getRow({ databaseId: DATABASE, tableId: ACCOUNTS, rowId: state.userId });
      if (state.balance === null) showBalance(row, "http");
      return;
    } catch (error) {
      if (error.code !== 404) throw error;
      $("balance").textContent = "opening your credit account…";
    }
    await new Promise((resolve) => setTimeout(resolve, BALANCE_POLL_MS));
  }
  if (state.balance === null) throw new Error("no credit account: is the grant-credits function deployed?");
}

async function main() {
  const env = await target();
  banner(env);
  const client = new Client().setEndpoint(env.endpoint).setProject(env.projectId);
  const account = new Account(client);
  state.tables = new TablesDB(client);
  state.storage = new Storage(client);
  const user = await signIn(account);
  state.userId = user.$id;
  $("user-id").textContent = user.$id;
  $("account-status").textContent = "(anonymous session)";
  log("http", `signed in as ${user.$id}`, { kind: "session" });

  const realtime = new Realtime(client);
  realtime.onError((error) => fail("realtime", error));
  realtime.onOpen(() => log("realtime", "connected", { kind: "socket" }));
  realtime.onClose(() => log("realtime", "disconnected", { kind: "socket" }));
  const rows = Channel.tablesdb(DATABASE).table(TRANSCRIPTIONS).row();
  await realtime.subscribe(rows, (event) => showTranscription(event.payload, "realtime", event.events[0]));
  const balance = Channel.tablesdb(DATABASE).table(ACCOUNTS).row(state.userId);
  await realtime.subscribe(balance, (event) => showBalance(event.payload, "realtime"));
  recorder();
  await waitForBalance();
}

main().catch((error) => fail("start", error));
