// The QuixoticWhisper app's Realtime flow through the official web SDK (npm `appwrite`, pinned in
// package.json), under node: `ws` stands in for the browser's WebSocket and a Map for localStorage, so the
// SDK keeps its session in the cookieFallback entry as it does in a browser on localhost, and sends it to
// Realtime in its `authentication` message.
//
// node scenario.mjs ENDPOINT PROJECT DATABASE TABLE OTHER_SESSION
// prints one JSON object: what the subscriber's callbacks received, in order.

import WebSocket from "ws";

const store = new Map();
globalThis.WebSocket = WebSocket;
globalThis.window = globalThis;
globalThis.localStorage = {
  getItem: (key) => (store.has(key) ? store.get(key) : null),
  setItem: (key, value) => store.set(key, String(value)),
  removeItem: (key) => store.delete(key),
};
console.warn = () => {}; // the SDK's "using localStorage for session management" notice

const { Account, Channel, Client, ID, Query, Realtime, TablesDB } = await import("appwrite");
const [endpoint, project, databaseId, tableId, otherSession] = process.argv.slice(2);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const client = new Client().setEndpoint(endpoint).setProject(project);
const account = new Account(client);
const me = await account.createAnonymousSession();
const tables = new TablesDB(client);
const other = new TablesDB(new Client().setEndpoint(endpoint).setProject(project).setSession(otherSession));

const received = [];
const accountEvents = [];
const realtime = new Realtime(client);
realtime.onError((error) => received.push({ error: String(error && error.message ? error.message : error) }));
const rows = await realtime.subscribe(Channel.tablesdb(databaseId).table(tableId).row(), (event) =>
  received.push({ id: event.payload.$id, text: event.payload.text, events: event.events.slice(0, 1),
                  channels: event.channels, subscriptions: event.subscriptions }));
const big = await realtime.subscribe(Channel.rows(), (event) => received.push({ big: event.payload.$id }), [
  Query.greaterThan("n", 10),
]);
await realtime.subscribe(Channel.account(), (event) => accountEvents.push(event.payload.prefs));

// The subscriptions are in place once an account change comes back (frames are handled in order).
for (let i = 0; accountEvents.length === 0 && i < 50; i++) {
  await account.updatePrefs({ prefs: { ready: i } });
  await sleep(100);
}
if (accountEvents.length === 0) throw new Error("no account event: the subscriptions never came into effect");

await other.createRow({ databaseId, tableId, rowId: "theirs", data: { text: "not for me", n: 99 } });
await tables.createRow({ databaseId, tableId, rowId: "mine", data: { text: "pending", n: 1 } });
await tables.updateRow({ databaseId, tableId, rowId: "mine", data: { text: "transcribed", n: 20 } });
await until(() => received.length >= 3, "the create and update events");

await rows.close();
await tables.updateRow({ databaseId, tableId, rowId: "mine", data: { text: "after close", n: 30 } });
await until(() => received.length >= 4, "the filtered subscription's event");
await big.close();
realtime.disconnect?.();

process.stdout.write(JSON.stringify({ userId: me.userId, received }) + "\n");
process.exit(0);
