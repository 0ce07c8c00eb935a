/**
 * Headless Chromium for page tests: Debian's `chromium` driven by playwright-core (no browser download:
 * `.ci/run` installs the package). The flags keep it off the network, which this machine does not have.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type LaunchOptions } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export function hasChromium(): boolean {
  return existsSync(CHROMIUM);
}

const OPTIONS = {
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
} satisfies LaunchOptions;

/**
 * Each window of headless Chromium (one per browser context; the tests open dozens) starts the address
 * bar's WebUI popup in a renderer of its own: about a quarter of Chromium's CPU time in these tests, for
 * an address bar nobody sees.
 */
const OMNIBOX_POPUP = ["WebUIOmniboxPopup", "WebUIOmniboxAimPopup", "WebUIOmniboxFullPopup"];

/**
 * The features Playwright turns off. Chromium honours only the last `--disable-features`, so ours must
 * repeat them: they are read off the command line Playwright builds, given to a stand-in executable that
 * writes its arguments down and exits (Playwright's launch then fails, as expected).
 */
async function playwrightDisabledFeatures(): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), "cordon-chromium-args-"));
  try {
    const standIn = join(dir, "chromium");
    writeFileSync(standIn, `#!/bin/sh\nprintf '%s\\n' "$@" > '${dir}/args'\n`, { mode: 0o755 });
    await chromium.launch({ ...OPTIONS, executablePath: standIn, timeout: 10_000 }).then(
      (b) => b.close(),
      () => undefined,
    );
    return readFileSync(join(dir, "args"), "utf8")
      .split("\n")
      .filter((a) => a.startsWith("--disable-features="))
      .flatMap((a) => a.slice("--disable-features=".length).split(","));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function launchBrowser(): Promise<Browser> {
  const disabled = [...(await playwrightDisabledFeatures()), ...OMNIBOX_POPUP];
  // Playwright gives each launch a fresh temporary profile of its own.
  return chromium.launch({
    ...OPTIONS,
    executablePath: CHROMIUM,
    args: [...OPTIONS.args, `--disable-features=${disabled.join(",")}`],
  });
}
