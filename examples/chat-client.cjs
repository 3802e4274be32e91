// A terminal chat client for a Switchboard started with `make run`.
//   NODE_PATH=tests/e2e/node_modules node examples/chat-client.cjs alice [room]
// Lines you type go to the room; messages from others are printed.
const { io } = require("socket.io-client");
const crypto = require("node:crypto");
const readline = require("node:readline");

const [user = "alice", room = "lobby"] = process.argv.slice(2);
const url = process.env.SWITCHBOARD_URL || "http://localhost:3000";
const secret = process.env.SWITCHBOARD_JWT_SECRET || "switchboard-dev-secret-do-not-use-in-production";

// Your auth service mints these; here we sign one with the server's secret.
const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
const body = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({
  sub: user, name: user, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
const token = `${body}.${crypto.createHmac("sha256", secret).update(body).digest("base64url")}`;

const socket = io(url, { auth: { token } });
socket.on("connect_error", (e) => { console.error("cannot connect:", e.message); process.exit(1); });
// Presence goes to friends (--presence-scope friends, the default): a
// stranger sharing the room shows up through chat:user_joined instead.
socket.on("connection:established", ({ onlineUsers }) => {
  console.log(`connected as ${user}; friends online: ${onlineUsers.filter((u) => u !== user).join(", ") || "none"}`);
  socket.emit("chat:join", room, (r) => console.log(r.error ? r.error.message : `joined ${room}`));
});
socket.on("user:online", ({ userId }) => console.log(`* ${userId} is online`));
socket.on("user:offline", ({ userId }) => console.log(`* ${userId} went offline`));
socket.on("chat:user_joined", ({ userId }) => console.log(`* ${userId} joined ${room}`));
socket.on("chat:user_left", ({ userId }) => console.log(`* ${userId} left ${room}`));
socket.on("chat:message", (m) => console.log(`${m.sender.name}: ${m.message}`));
socket.on("error", (e) => console.error(`error (${e.code}): ${e.message}`));

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim()) socket.emit("chat:message", { roomId: room, message: line });
}).on("close", () => socket.close());
