/*
 * test-web.mjs: the web page (src/web/) in headless Chromium, driven by
 * Playwright, against the usbpassd of web-harness.c (demo.umockdev devices,
 * the test driver's instances demo-off, demo-on and demo-transient)
 *
 * The cases share one daemon and run in order: attach, then detach, then the
 * hotplug and restart cases. Every wait is Playwright's (a condition with a
 * deadline), never a fixed sleep. Screenshots of each view go to
 * $USBPASS_WEB_ARTIFACTS (the build tree). Output is TAP.
 */
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { env, launch, close, control, assert, assertEqual, runTests } from "./lib.mjs";

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const TIMEOUT_MS = 20000;

let browser;
const cspViolations = [];
const pageErrors = [];

fs.mkdirSync(env.artifacts, { recursive: true });

async function newPage() {
	const page = await browser.context.newPage();
	page.setDefaultTimeout(TIMEOUT_MS);
	page.on("console", (message) => {
		if (/Content Security Policy/i.test(message.text()))
			cspViolations.push(message.text());
	});
	page.on("pageerror", (error) => pageErrors.push(error.message));
	return page;
}

async function shot(page, name) {
	await page.screenshot({ path: path.join(env.artifacts, name + ".png"), fullPage: true });
}

/* signs in through the form and waits for the devices table */
async function signIn(token = env.admin) {
	const page = await newPage();
	await page.goto(env.url + "/");
	await page.getByLabel("Token").fill(token);
	await page.getByRole("button", { name: "Sign in" }).click();
	await page.locator("#devices-body tr").first().waitFor();
	return page;
}

function row(page, name) {
	return page.locator("#devices-body tr").filter({ has: page.getByRole("link", { name }) });
}

async function waitText(locator, expected) {
	await locator.filter({ hasText: expected }).first().waitFor();
}

function instanceSection(page, name) {
	return page.getByRole("region", { name, exact: true });
}

async function openAttach(page, instance) {
	await page.getByRole("link", { name: "Instances" }).click();
	const section = instanceSection(page, instance);
	await section.getByRole("button", { name: "Attach USB device" }).click();
	const dialog = page.getByRole("dialog", { name: "Attach USB device" });
	await dialog.waitFor();
	/* the policy's dry runs have all answered */
	await page.waitForFunction(() => !document.getElementById("attach-list").textContent
	                                   .includes("checking the policy"));
	return dialog;
}

/* records every text #attach-progress shows, so that "attaching" is seen
 * however quickly "attached" follows */
async function recordProgress(page) {
	await page.evaluate(() => {
		window.__progress = [];
		const node = document.getElementById("attach-progress");
		new MutationObserver(() => window.__progress.push(node.textContent))
			.observe(node, { childList: true, characterData: true, subtree: true });
	});
}

async function axeScan(page, label) {
	/* evaluated over the DevTools protocol, which the page's CSP does not block */
	if (!(await page.evaluate(() => typeof window.axe !== "undefined")))
		await page.evaluate(AXE_SOURCE);
	const result = await page.evaluate(() => window.axe.run(document, {
		resultTypes: ["violations"],
	}));
	const serious = result.violations.filter((v) => ["serious", "critical"].includes(v.impact));
	assert(serious.length === 0, `${label}: axe-core found ` + serious.map(
		(v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target).join(", ")}`)
		.join("; "));
}

const tests = [
	["the page is served with a strict Content-Security-Policy", async () => {
		const response = await fetch(env.url + "/");
		assertEqual(response.status, 200, "GET /");
		const csp = response.headers.get("content-security-policy");
		assert(csp && csp.includes("script-src 'self'") && csp.includes("style-src 'self'"),
		       "CSP names 'self' for scripts and styles: " + csp);
		assert(!csp.includes("unsafe-inline") && !csp.includes("unsafe-eval"),
		       "no unsafe-inline/eval: " + csp);
		assertEqual(response.headers.get("x-content-type-options"), "nosniff", "nosniff");
		assertEqual(response.headers.get("content-type"), "text/html; charset=utf-8", "type");
		const html = await response.text();
		assert(!/<script>|<style>| on[a-z]+=/i.test(html), "no inline script, style or handler");
		const js = await fetch(env.url + "/app.js");
		assertEqual(js.headers.get("content-type"), "text/javascript; charset=utf-8", "js type");
		assert(!/\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write/
		       .test(await js.text()), "app.js never parses markup");
		const etag = js.headers.get("etag");
		const again = await fetch(env.url + "/app.js", { headers: { "If-None-Match": etag } });
		assertEqual(again.status, 304, "If-None-Match gives 304");
		const post = await fetch(env.url + "/", { method: "POST" });
		assertEqual(post.status, 405, "POST / is refused");
	}],

	["sign in with the token form; the token stays in sessionStorage", async () => {
		const page = await newPage();
		await page.goto(env.url + "/");
		await shot(page, "signin");
		await axeScan(page, "sign-in");
		await page.getByLabel("Token").fill(env.admin);
		await page.getByRole("button", { name: "Sign in" }).click();
		await row(page, "SanDisk Cruzer Blade").waitFor();
		assertEqual(await page.evaluate(() => sessionStorage.getItem("usbpass.token")), env.admin,
		            "token in sessionStorage");
		assertEqual((await browser.context.cookies()).length, 0, "no cookie");
		await page.close();
	}],

	["a refused token shows a clear banner", async () => {
		const page = await newPage();
		await page.goto(env.url + "/");
		await page.getByLabel("Token").fill("usbp_not_a_valid_token");
		await page.getByRole("button", { name: "Sign in" }).click();
		const banner = page.getByRole("alert").filter({ hasText: "The token was refused" });
		await banner.waitFor();
		assert(await page.getByLabel("Token").isVisible(), "the form is shown again");
		assertEqual(await page.evaluate(() => sessionStorage.getItem("usbpass.token")), null,
		            "a refused token is not kept");
		await shot(page, "token-refused");
		await page.close();
	}],

	["the one-time #token= address signs in and leaves no secret behind", async () => {
		const page = await newPage();
		await page.goto(env.url + "/#token=" + encodeURIComponent(env.admin));
		await row(page, "SanDisk Cruzer Blade").waitFor();
		assert(!page.url().includes(env.admin), "the address bar no longer holds the token");
		assert(page.url().endsWith("#/devices"), "the devices view: " + page.url());
		await page.close();
	}],

	["list: the devices table, filters, topology and a device's detail", async () => {
		const page = await signIn();
		const headers = await page.locator("#devices-table thead th").allTextContents();
		assertEqual(headers.join("|"), "Name|ID|Host|Port|Bus:Dev|Serial|Class|State|Instance",
		            "column headers");
		const cruzer = row(page, "SanDisk Cruzer Blade");
		const cells = await cruzer.locator("td").allTextContents();
		assertEqual(cells[1], "0781:5567:s:4C530001231122117043", "ID");
		assertEqual(cells[2], "testhost", "Host");
		assertEqual(cells[3], "1-3", "Port");
		assertEqual(cells[5], "4C530001231122117043", "Serial");
		assertEqual(cells[6], "Mass Storage", "Class");
		assertEqual(cells[7], "available", "State in words");
		assert(await cruzer.locator(".state-available").count() === 1, "state in colour");
		await shot(page, "devices");
		await axeScan(page, "devices");

		await page.getByLabel("Filter").fill("QinHeng");
		await page.waitForFunction(() => document.getElementById("devices-count").textContent
		                                   .startsWith("2 of"));
		await page.getByLabel("Filter").fill("");
		await page.getByLabel("State").selectOption("missing");
		await page.waitForFunction(() => document.getElementById("devices-count").textContent
		                                   .startsWith("0 of"));
		await page.getByLabel("State").selectOption("");
		assert((await page.getByLabel("Host").locator("option").allTextContents())
		       .includes("testhost"), "host filter offers the host");

		await page.getByRole("button", { name: "Topology" }).click();
		const topology = page.locator("#topology");
		/* controller -> root hub -> hub -> device */
		const yubikey = topology.locator("li", { has: page.getByRole("link",
		                                  { name: "GenesysLogic USB2.0 Hub" }) })
		                        .getByRole("link", { name: "Yubico YubiKey OTP+FIDO+CCID" });
		await yubikey.waitFor();
		assert((await topology.textContent()).includes("controller 0000:00:14.0"),
		       "controllers head the tree");
		await shot(page, "topology");
		await axeScan(page, "topology");
		await page.getByRole("button", { name: "Table" }).click();

		await page.getByRole("link", { name: "SanDisk Cruzer Blade" }).click();
		await page.getByRole("heading", { name: "SanDisk Cruzer Blade" }).waitFor();
		assert(page.url().includes("#/devices/0781%3A5567"), "the detail has its URL");
		const detail = page.locator("#device-detail");
		await waitText(detail.locator("td"), "usb-storage");
		await waitText(detail.locator("dd"), "allowed");
		await page.getByRole("heading", { name: "Audit entries" }).waitFor();
		await shot(page, "device-detail");
		await axeScan(page, "device detail");
		await page.close();
	}],

	["each view has its own address", async () => {
		const page = await newPage();
		await page.goto(env.url + "/#token=" + encodeURIComponent(env.admin));
		await row(page, "SanDisk Cruzer Blade").waitFor();
		await page.goto(env.url + "/#/hosts");
		await page.getByRole("heading", { name: "Hosts" }).waitFor();
		await waitText(page.locator("#hosts-body td"), "testhost");
		assertEqual(await page.locator("#hosts-body tr").count(), 1, "one host");
		assertEqual(await page.getByRole("link", { name: "Hosts" }).getAttribute("aria-current"),
		            "page", "the navigation marks the view");
		await shot(page, "hosts");
		await axeScan(page, "hosts");
		await page.close();
	}],

	["attach through the dialog: attaching, then attached", async () => {
		const page = await signIn(env.operator);
		const dialog = await openAttach(page, "demo-off");
		await shot(page, "attach-dialog");
		await axeScan(page, "attach dialog");
		/* two identical adapters told apart by port (and serial) */
		const twins = dialog.getByRole("radio", { name: /QinHeng Electronics USB Serial/ });
		assertEqual(await twins.count(), 2, "both CH340 adapters are listed");
		const names = await twins.evaluateAll((inputs) => inputs.map(
			(i) => document.querySelector(`label[for="${i.id}"]`).textContent));
		assert(names[0].includes("port 1-4.3") && names[1].includes("port 1-4.4"),
		       "told apart by port: " + names.join(" / "));
		await recordProgress(page);
		await dialog.getByRole("radio", { name: /SanDisk Cruzer Blade/ }).check();
		await dialog.getByRole("button", { name: "Attach" }).click();
		await waitText(dialog.locator("#attach-progress"), "attached");
		const seen = await page.evaluate(() => window.__progress);
		assert(seen.indexOf("attaching") >= 0 && seen.indexOf("attaching") <
		       seen.lastIndexOf("attached"), "progress went attaching -> attached: " + seen);
		await dialog.getByRole("button", { name: "Close" }).click();
		const section = instanceSection(page, "demo-off");
		await section.getByRole("link", { name: "SanDisk Cruzer Blade" }).waitFor();
		await section.getByRole("button", { name: "Detach SanDisk Cruzer Blade" }).waitFor();
		await shot(page, "instances");
		await axeScan(page, "instances");
		/* the devices view followed the change live */
		await page.getByRole("link", { name: "Devices" }).click();
		await waitText(row(page, "SanDisk Cruzer Blade").locator("td"), "attached");
		await waitText(row(page, "SanDisk Cruzer Blade").locator("td"), "demo-off");
		await page.close();
	}],

	["devices that cannot be chosen are greyed with the reason", async () => {
		const page = await signIn(env.operator);
		const dialog = await openAttach(page, "demo-on");
		const hub = dialog.getByRole("radio", { name: /GenesysLogic USB2.0 Hub/ });
		assert(await hub.isDisabled(), "the hub cannot be chosen");
		const hubReason = await page.locator("#" + await hub.getAttribute("aria-describedby"))
		                            .textContent();
		assert(hubReason.includes("refused by policy rule builtin-hub"),
		       "the hub's reason names the rule: " + hubReason);
		const cruzer = dialog.getByRole("radio", { name: /SanDisk Cruzer Blade/ });
		assert(await cruzer.isDisabled(), "a device in use cannot be chosen");
		const inUse = await page.locator("#" + await cruzer.getAttribute("aria-describedby"))
		                        .textContent();
		assertEqual(inUse, "in use by instance 'demo-off'", "in use by which instance");
		await shot(page, "attach-refused");
		await page.close();
	}],

	["a failed attach shows the API's message verbatim in the dialog", async () => {
		const page = await signIn(env.operator);
		const dialog = await openAttach(page, "demo-on");
		await dialog.getByRole("radio", { name: /FTDI FT232R USB UART/ }).check();
		const answer = page.waitForResponse((r) => r.request().method() === "POST");
		await dialog.getByRole("button", { name: "Attach" }).click();
		const response = await answer;
		assert(!response.ok(), "the test driver refuses a live attach of 001:005");
		const message = (await response.json()).error.message;
		await waitText(dialog.getByRole("alert"), message);
		assertEqual(await dialog.locator("#attach-error").textContent(), message, "verbatim");
		await shot(page, "attach-failed");
		await page.keyboard.press("Escape");
		await page.close();
	}],

	["detach, with a confirmation dialog", async () => {
		const page = await signIn(env.operator);
		await page.getByRole("link", { name: "Instances" }).click();
		const section = instanceSection(page, "demo-off");
		await section.getByRole("button", { name: "Detach SanDisk Cruzer Blade" }).click();
		const dialog = page.getByRole("dialog", { name: "Detach USB device" });
		await dialog.waitFor();
		await shot(page, "detach-dialog");
		await axeScan(page, "detach dialog");
		await dialog.getByRole("button", { name: "Detach" }).click();
		await dialog.waitFor({ state: "hidden" });
		await section.getByText("No USB devices.").waitFor();
		await page.getByRole("link", { name: "Devices" }).click();
		await waitText(row(page, "SanDisk Cruzer Blade").locator("td"), "available");
		await page.close();
	}],

	["keyboard only: Tab, Enter and Space attach a device", async () => {
		const page = await signIn(env.operator);
		await page.getByRole("link", { name: "Instances" }).click();
		await instanceSection(page, "demo-transient").waitFor();
		const target = await page.locator("#instances-list section").filter(
			{ has: page.getByRole("heading", { name: "demo-transient" }) })
			.getByRole("button", { name: "Attach USB device" }).getAttribute("id");
		let focused = null;
		for (let i = 0; i < 80 && focused !== target; i++) {
			await page.keyboard.press("Tab");
			focused = await page.evaluate(() => document.activeElement.id);
		}
		assertEqual(focused, target, "Tab reaches demo-transient's Attach USB device");
		await page.keyboard.press("Enter");
		const dialog = page.getByRole("dialog", { name: "Attach USB device" });
		await dialog.waitFor();
		await page.waitForFunction(() => !document.getElementById("attach-list").textContent
		                                   .includes("checking the policy"));
		const first = await page.evaluate(() => document.activeElement.getAttribute("name"));
		assertEqual(first, "attach-device", "focus is on the first device");
		await page.keyboard.press("Space");
		const chosen = await page.evaluate(() => document.activeElement.value);
		assert(await page.evaluate(() => document.activeElement.checked), "Space chose it");
		await page.keyboard.press("Tab");
		assertEqual(await page.evaluate(() => document.activeElement.id), "attach-confirm",
		            "Tab moves on to Attach");
		await page.keyboard.press("Enter");
		await waitText(dialog.locator("#attach-progress"), "attached");
		await page.keyboard.press("Escape");
		await dialog.waitFor({ state: "hidden" });
		const device = await (await fetch(env.url + "/v1/devices/" + encodeURIComponent(chosen),
		                                   { headers: { Authorization: "Bearer " + env.admin } }))
		                     .json();
		assertEqual(device.instance_name, "demo-transient", "attached by keyboard");
		await page.close();
	}],

	["the reader role sees everything and no action buttons", async () => {
		const page = await signIn(env.reader);
		await row(page, "SanDisk Cruzer Blade").waitFor();
		await page.getByRole("link", { name: "Instances" }).click();
		await instanceSection(page, "demo-transient").waitFor();
		/* demo-transient holds the keyboard case's device: a Detach would show */
		assert((await instanceSection(page, "demo-transient").getByRole("link").count()) >= 1,
		       "the reader sees the instance's devices");
		assertEqual(await page.getByRole("button", { name: "Attach USB device" }).count(), 0,
		            "no Attach USB device");
		assertEqual(await page.getByRole("button", { name: /Detach/ }).count(), 0, "no Detach");
		await shot(page, "instances-reader");
		await page.getByRole("link", { name: "Audit" }).click();
		await page.getByText("The audit log needs an admin token.").waitFor();
		await page.close();
	}],

	["the audit view: newest first, paged", async () => {
		const page = await signIn(env.admin);
		await page.getByRole("link", { name: "Audit" }).click();
		const rows = page.locator("#audit-table tbody tr");
		await rows.first().waitFor();
		const times = await page.locator("#audit-table tbody tr td:first-child")
		                        .allTextContents();
		const sorted = [...times].sort().reverse();
		assertEqual(times.join(","), sorted.join(","), "newest first");
		const actions = await page.locator("#audit-table tbody tr td:nth-child(4)")
		                          .allTextContents();
		assert(actions.includes("attach") && actions.includes("detach"),
		       "attach and detach are there: " + actions);
		await page.getByRole("button", { name: "Newer" }).waitFor();
		await page.getByRole("button", { name: "Older" }).waitFor();
		await shot(page, "audit");
		await axeScan(page, "audit");
		await page.close();
	}],

	["a hotplugged device appears live; a pulled one turns missing", async () => {
		const page = await signIn(env.admin);
		await page.evaluate(() => { window.__sameDocument = true; });
		await control("plug hot");
		await waitText(row(page, "Hotplug Live Stick").locator("td"), "available");
		await control("unplug hot");
		await waitText(row(page, "Hotplug Live Stick").locator("td"), "missing");
		assert(await page.evaluate(() => window.__sameDocument === true), "no reload");
		await shot(page, "hotplug");
		await page.close();
	}],

	["the page reconnects after the daemon restarts", async () => {
		const page = await signIn(env.admin);
		await page.evaluate(() => { window.__sameDocument = true; });
		await page.locator("#live.on").waitFor();
		await control("restart");
		await control("plug hot");
		await waitText(row(page, "Hotplug Live Stick").locator("td"), "available");
		await page.locator("#live.on").waitFor();
		assert(await page.evaluate(() => window.__sameDocument === true), "no reload");
		await control("unplug hot");
		await waitText(row(page, "Hotplug Live Stick").locator("td"), "missing");
		await page.close();
	}],

	["a hostile device's strings are rendered as text", async () => {
		const page = await signIn(env.operator);
		await control("plug hostile");
		const hostile = page.locator("#devices-body tr").filter({ hasText: "<img src=x" });
		await hostile.waitFor();
		const name = await hostile.locator("td").first().textContent();
		assert(name.includes("<img src=x onerror=") && name.includes("<script>"),
		       "markup shown as text: " + name);
		const serial = await hostile.locator("td").nth(5).textContent();
		assert(serial.includes("<svg onload="), "serial shown as text: " + serial);
		assertEqual(await page.locator("main img, main script, main svg, main b").count(), 0,
		            "no element was made from a device string");
		await openAttach(page, "demo-on");
		await page.getByRole("radio", { name: /<img src=x/ }).waitFor();
		assertEqual(await page.locator("dialog img, dialog script, dialog svg").count(), 0,
		            "nor in the dialog");
		await shot(page, "hostile");
		await page.keyboard.press("Escape");
		await page.getByRole("link", { name: "Devices" }).click();
		await hostile.getByRole("link").click();
		await page.locator("#device-detail dd").filter({ hasText: "Evil \"Corp\" <b>&amp;</b>" })
		          .first().waitFor();
		assertEqual(await page.locator("main img, main script, main svg, main b").count(), 0,
		            "nor in the detail");
		/* the committed hostile record too: control characters, invalid UTF-8, long strings */
		await control("reload hostile.umockdev");
		await page.getByRole("link", { name: "Back to devices" }).click();
		await page.locator("#devices-body tr").filter({ hasText: "1234:abce" }).waitFor();
		assertEqual(await page.locator("main img, main script, main svg, main b").count(), 0,
		            "nor from hostile.umockdev");
		assert(await page.evaluate(() => window.__pwned === undefined), "no script ran");
		await shot(page, "hostile-umockdev");
		await page.close();
	}],

	["no Content-Security-Policy violation and no script error on any page", async () => {
		assertEqual(cspViolations.join("\n"), "", "CSP violations");
		assertEqual(pageErrors.join("\n"), "", "uncaught errors");
	}],
];

browser = await launch();
let failed;
try {
	failed = await runTests(tests);
} finally {
	await close(browser);
}
process.exit(failed ? 1 : 0);
