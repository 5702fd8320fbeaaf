/*
 * lib.mjs: what the web suite and the web benchmark share: Debian's chromium
 * under Playwright, the harness's control socket, a small TAP runner
 *
 * Everything comes from the environment web-harness.c sets (USBPASS_WEB_*).
 */
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

export const env = {
	url: process.env.USBPASS_WEB_URL,
	admin: process.env.USBPASS_WEB_TOKEN_ADMIN,
	operator: process.env.USBPASS_WEB_TOKEN_OPERATOR,
	reader: process.env.USBPASS_WEB_TOKEN_READER,
	control: process.env.USBPASS_WEB_CONTROL,
	driver: process.env.USBPASS_WEB_DRIVER || "test",
	chromium: process.env.USBPASS_WEB_CHROMIUM || "/usr/bin/chromium",
	artifacts: process.env.USBPASS_WEB_ARTIFACTS ||
	           path.join(process.env.USBPASS_WEB_TMPDIR || os.tmpdir(), "artifacts"),
};

/* a fresh profile each run; the flags keep Chromium off the (closed) network */
export async function launch() {
	const profile = fs.mkdtempSync(path.join(process.env.USBPASS_WEB_TMPDIR || os.tmpdir(),
	                                         "chromium-"));
	const context = await chromium.launchPersistentContext(profile, {
		executablePath: env.chromium,
		headless: true,
		viewport: { width: 1280, height: 800 },
		args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		       "--disable-background-networking", "--disable-component-update",
		       "--disable-sync"],
	});
	return { context, profile };
}

export async function close(browser) {
	await browser.context.close();
	fs.rmSync(browser.profile, { recursive: true, force: true });
}

/* one command to web-harness.c, its one-line answer */
export function control(command) {
	return new Promise((resolve, reject) => {
		const socket = net.createConnection(env.control);
		let answer = "";
		socket.setEncoding("utf8");
		socket.on("connect", () => socket.write(command + "\n"));
		socket.on("data", (chunk) => { answer += chunk; });
		socket.on("error", reject);
		socket.on("end", () => {
			answer = answer.trim();
			if (answer.startsWith("ok "))
				resolve(answer);
			else
				reject(new Error("harness: " + (answer || "no answer to " + command)));
		});
	});
}

export function assert(condition, message) {
	if (!condition)
		throw new Error("assertion failed: " + message);
}

export function assertEqual(actual, expected, message) {
	if (actual !== expected)
		throw new Error(`assertion failed: ${message}: got ${JSON.stringify(actual)}, ` +
		                `expected ${JSON.stringify(expected)}`);
}

/* TAP for meson: "ok N - name", "not ok N - name" with the error as comments */
export async function runTests(tests) {
	console.log("TAP version 13");
	console.log("1.." + tests.length);
	let failed = 0;
	for (let i = 0; i < tests.length; i++) {
		const [name, fn] = tests[i];
		try {
			await fn();
			console.log(`ok ${i + 1} - ${name}`);
		} catch (e) {
			failed++;
			console.log(`not ok ${i + 1} - ${name}`);
			for (const line of String(e && e.stack ? e.stack : e).split("\n"))
				console.log("# " + line);
		}
	}
	return failed;
}
